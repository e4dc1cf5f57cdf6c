"""The owned templates' table (schema 3) on every backend: recorded, journalled, shared
between handles, refused when read-only, and added in place to a schema-2 state."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import psycopg
import pytest

from orchestrator.errors import StateError
from orchestrator.state import open_store
from orchestrator.state.models import TemplateRecord
from tests.state.conftest import Backend

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def record(name: str = "welcome", template_id: int = 4101, fingerprint: str = "f1") -> TemplateRecord:
    return TemplateRecord(name, template_id, fingerprint, f"remote-{fingerprint}", AT)


def test_a_recorded_template_is_read_back_by_every_handle_and_journalled(backend: Backend) -> None:
    store = backend.open()
    assert store.templates() == {}
    serial = store.put_template(record())
    assert serial == store.snapshot().serial == 1
    assert backend.open().templates() == {"welcome": record()}
    entry = store.journal("template:welcome")[-1]
    assert entry.action == "template" and entry.detail == {"template_id": 4101, "fingerprint": "f1"}


def test_recording_a_template_again_replaces_it(backend: Backend) -> None:
    store = backend.open()
    store.put_template(record())
    store.put_template(record(template_id=4101, fingerprint="f2"))
    store.put_template(record("other", 4102))
    assert store.templates() == {"other": record("other", 4102), "welcome": record(fingerprint="f2")}


def test_a_read_only_store_refuses_to_record_a_template(db_backend: Backend) -> None:
    db_backend.open().put_template(record())
    reader = open_store(db_backend.kind, path=db_backend.path, dsn=db_backend.dsn, read_only=True)
    try:
        assert reader.templates() == {"welcome": record()}
        with pytest.raises(StateError, match="read-only"):
            reader.put_template(record(fingerprint="f2"))
    finally:
        reader.close()


def _make_schema_2(backend: Backend) -> None:
    """A state as schema 2 left it: no templates' table, version 2."""
    backend.open().close()
    if backend.kind == "sqlite":
        assert backend.path is not None
        with sqlite3.connect(backend.path) as conn:
            conn.execute("DROP TABLE owned_templates")
            conn.execute("UPDATE meta SET schema_version = 2")
        conn.close()
        return
    assert backend.dsn is not None
    with psycopg.connect(backend.dsn) as pg:
        pg.execute("DROP TABLE orchestrator_templates")
        pg.execute("UPDATE orchestrator_meta SET schema_version = 2")


def test_a_schema_2_state_reads_no_templates_then_gains_the_table_on_a_write_capable_open(
    db_backend: Backend,
) -> None:
    _make_schema_2(db_backend)
    reader = open_store(db_backend.kind, path=db_backend.path, dsn=db_backend.dsn, read_only=True)
    try:
        assert reader.templates() == {}
    finally:
        reader.close()
    writer = open_store(db_backend.kind, path=db_backend.path, dsn=db_backend.dsn)
    try:
        writer.put_template(record())
        assert writer.templates() == {"welcome": record()}
    finally:
        writer.close()
