"""The pure core imports without the I/O libraries (issue 12, "The core is importable ...").

Each module is imported in a fresh interpreter, because this test process has long since
loaded everything; the check is on ``sys.modules`` afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Libraries the core must not load: templates, schemas, cron, databases, HTTP.
FORBIDDEN = ("jinja2", "jsonschema", "croniter", "sqlite3", "httpx")

CORE = (
    "orchestrator.planner",
    "orchestrator.plan",
    "orchestrator.policy",
    "orchestrator.planfile",
    "orchestrator.desired",
    "orchestrator.apply",  # the engine; the client it is given is the caller's business
)


def _loaded_after_import(module: str, watched: tuple[str, ...] = FORBIDDEN) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps(sorted(m for m in {list(watched)!r} if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize("module", CORE)
def test_core_module_loads_no_io_library(module: str) -> None:
    assert _loaded_after_import(module) == []


#: What a plan or apply against Pardot with a SQLite state has no use for: PostgreSQL's driver,
#: the sandbox's web server, the export machinery (only audience counts need it), charts.
NOT_FOR_PLAIN_APPLY = ("psycopg", "werkzeug", "orchestrator.export.merge", "orchestrator.audience", "matplotlib")


@pytest.mark.parametrize(
    "module", ["orchestrator.planning", "orchestrator.applying", "orchestrator.connect", "orchestrator.cli.plan_apply"]
)
def test_the_apply_path_loads_only_what_it_uses(module: str) -> None:
    """Each of these costs tens of milliseconds at the start of every ``plan`` and ``apply``."""
    assert _loaded_after_import(module, NOT_FOR_PLAIN_APPLY) == []


def test_the_check_sees_a_loaded_library() -> None:
    """The probe itself works: the campaign compiler does load them."""
    assert set(_loaded_after_import("orchestrator.desired_sends")) >= {"jinja2", "jsonschema"}


@pytest.mark.parametrize(
    ("package", "name"),
    [
        ("orchestrator.state", "SqliteStateStore"),
        ("orchestrator.state", "SendRecord"),
        ("orchestrator.pardot", "PardotClient"),
        ("orchestrator.pardot", "Email"),
        ("orchestrator.sandbox", "SandboxApp"),
        ("orchestrator.sandbox", "serve"),
        ("orchestrator.report", "build_report"),
    ],
)
def test_lazy_package_faces_still_offer_their_names(package: str, name: str) -> None:
    module = __import__(package, fromlist=[name])
    assert getattr(module, name) is not None


@pytest.mark.parametrize(
    "package", ["orchestrator.state", "orchestrator.pardot", "orchestrator.sandbox", "orchestrator.report"]
)
def test_lazy_package_faces_refuse_unknown_names(package: str) -> None:
    module = __import__(package, fromlist=["x"])
    with pytest.raises(AttributeError):
        module.NoSuchName  # noqa: B018


@pytest.mark.parametrize("name", ["campaign", "config", "plan"])
def test_shipped_schemas_are_valid_json_schemas(name: str) -> None:
    """The schemas are not re-checked at run time (it slowed every command's start), so here."""
    from jsonschema import Draft202012Validator

    from orchestrator.schemas import load_schema

    Draft202012Validator.check_schema(load_schema(name))
