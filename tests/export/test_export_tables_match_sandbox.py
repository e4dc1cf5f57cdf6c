"""The client's procedures table and the sandbox's describe the same API.

Each side keeps its own table (the sandbox maps fields to SQL); this test is what keeps them
from drifting apart: a field or argument the sandbox accepts must pass the local checks.
"""

from __future__ import annotations

import pytest

from orchestrator.export.procedures import OBJECTS, canonical_name, find_object
from orchestrator.sandbox.export_specs import OBJECTS as SANDBOX_OBJECTS


def test_same_objects() -> None:
    assert {o.wire_name for o in OBJECTS} == set(SANDBOX_OBJECTS)


@pytest.mark.parametrize("wire_name", sorted(SANDBOX_OBJECTS))
def test_same_procedures_and_arguments(wire_name: str) -> None:
    ours = find_object(wire_name)
    theirs = SANDBOX_OBJECTS[wire_name]
    assert {p.name for p in ours.procedures} == set(theirs.procedures)
    for proc in ours.procedures:
        sandbox_args = {canonical_name(a) for a in theirs.procedures[proc.name]}
        assert set(proc.argument_names) == sandbox_args
        for name, spec in theirs.procedures[proc.name].items():
            argument = proc.argument(canonical_name(name))
            assert argument is not None
            assert argument.required == spec.required


@pytest.mark.parametrize("wire_name", sorted(SANDBOX_OBJECTS))
def test_every_sandbox_field_is_accepted_locally(wire_name: str) -> None:
    missing = set(SANDBOX_OBJECTS[wire_name].fields) - set(find_object(wire_name).fields)
    assert not missing
