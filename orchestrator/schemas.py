"""The JSON Schemas in ``schemas/``, and validation that reports located, readable errors.

The schemas are the single source of truth for file shapes.  In a source checkout they are
read from the top-level ``schemas/`` folder; a built wheel carries a copy at
``orchestrator/_schemas`` (see ``pyproject.toml``), so a non-editable install finds them too.

Schemas may carry a non-standard ``x-message`` keyword: when a subschema with one fails, that
sentence replaces jsonschema's generic text (a wall of ``oneOf`` alternatives helps no one).
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import extend

from orchestrator.errors import Diagnostic
from orchestrator.yamlload import Document

_SOURCE_DIR = Path(__file__).resolve().parent.parent / "schemas"


def schema_path(name: str) -> Path:
    """Where ``schemas/<name>.schema.json`` lives in this installation."""
    filename = f"{name}.schema.json"
    packaged = resources.files("orchestrator").joinpath("_schemas", filename)
    if packaged.is_file():
        return Path(str(packaged))
    return _SOURCE_DIR / filename


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema ``name`` (``campaign``, ``config``, ``plan``)."""
    with schema_path(name).open(encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """A cached validator for schema ``name`` (:data:`_Validator`: Draft 2020-12, quicker on valid files).

    The shipped schemas are checked against the metaschema by ``tests/test_core_imports.py``,
    not here: checking them on every run cost a tenth of a second of each command's start.
    """
    return _Validator(load_schema(name))


#: jsonschema's own keyword functions, which the quicker ones below fall back on.
_PLAIN = Draft202012Validator.VALIDATORS


def _ruled_out(check: Draft202012Validator, branch: Any, instance: Any) -> bool:
    """Whether ``branch`` certainly fails for ``instance``, seen from its discriminator alone: a
    ``type`` the instance is not, or a ``required`` key the object lacks. No error is built."""
    if not isinstance(branch, dict):
        return False
    kind = branch.get("type")
    if isinstance(kind, str) and not check.is_type(instance, kind):
        return True
    required = branch.get("required")
    return (
        isinstance(required, list)
        and check.is_type(instance, "object")
        and any(key not in instance for key in required)
    )


def _holds(check: Draft202012Validator, instance: Any, branch: Any, index: int | str) -> bool:
    return next(check.descend(instance, branch, schema_path=index), None) is None


def _one_of(check: Draft202012Validator, branches: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """``oneOf``, discriminator first: when every branch but one is ruled out and that one holds,
    the instance is valid. jsonschema's own ``oneOf`` would build (and drop) an error for each
    failing branch; a valid campaign file cost 13 of them, 0.5 ms a file. Otherwise, jsonschema's
    ``oneOf`` runs as it is: an invalid file gets exactly the errors, and so the messages, it did."""
    if isinstance(branches, list):
        left = [i for i, branch in enumerate(branches) if not _ruled_out(check, branch, instance)]
        if len(left) == 1 and _holds(check, instance, branches[left[0]], left[0]):
            return
    yield from _PLAIN["oneOf"](check, branches, instance, schema)


def _any_of(check: Draft202012Validator, branches: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """``anyOf``: valid as soon as a branch that is not ruled out holds; else jsonschema's ``anyOf``."""
    if isinstance(branches, list) and any(
        not _ruled_out(check, branch, instance) and _holds(check, instance, branch, i)
        for i, branch in enumerate(branches)
    ):
        return
    yield from _PLAIN["anyOf"](check, branches, instance, schema)


def _not(check: Draft202012Validator, negated: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """``not``: nothing to report when the negated schema is ruled out (``not: {required: [a, b]}``
    of an object without both); else jsonschema's ``not``."""
    if _ruled_out(check, negated, instance):
        return
    yield from _PLAIN["not"](check, negated, instance, schema)


def _if(check: Draft202012Validator, condition: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """``if``: straight to ``else`` when the condition is ruled out; else jsonschema's ``if``."""
    if _ruled_out(check, condition, instance):
        if "else" in schema:
            yield from check.descend(instance, schema["else"], schema_path="else")
        return
    yield from _PLAIN["if"](check, condition, instance, schema)


#: Draft 2020-12 with the four keywords above: the same errors for every instance (a property
#: test compares them with the plain validator's), without building the discarded ones.
_Validator: type[Draft202012Validator] = extend(  # type: ignore[no-untyped-call]  # the stubs leave it untyped
    Draft202012Validator, {"oneOf": _one_of, "anyOf": _any_of, "not": _not, "if": _if}
)


def validate_data(name: str, data: Any) -> list[str]:
    """Plain-text errors of ``data`` against schema ``name`` (for machine documents such as plans)."""
    return [
        f"{'/'.join(str(p) for p in err.absolute_path) or '(root)'}: {_message(err)}"
        for err in validator(name).iter_errors(data)
    ]


def faulty_keys(name: str, data: Any) -> frozenset[str]:
    """The top-level keys of ``data`` that schema ``name`` objects to, at or below them.

    Any error counts, including those inside the alternatives of a ``oneOf``: a key is sound
    only if no branch complains about it, so a later stage may read it as the schema promises.
    """

    def walk(errors: Iterator[ValidationError] | list[ValidationError]) -> Iterator[str]:
        for err in errors:
            if err.absolute_path:
                yield str(err.absolute_path[0])
            yield from walk(err.context or [])

    return frozenset(walk(validator(name).iter_errors(data)))


def validate_document(name: str, doc: Document) -> list[Diagnostic]:
    """Validate a loaded YAML document; every error is located at its YAML node."""
    out: list[Diagnostic] = []
    seen: set[tuple[Any, ...]] = set()
    for err in validator(name).iter_errors(doc.data):
        for leaf in _leaves(err):
            path, message = _locate(leaf, doc)
            ident = (path, message)
            if ident not in seen:
                seen.add(ident)
                out.append(doc.diagnostic(path, message))
    return out


def _leaves(err: ValidationError) -> Iterator[ValidationError]:
    """The errors worth showing for ``err``: itself, or its most relevant alternative."""
    if _x_message(err) is not None:
        # A oneOf whose instance clearly picked a branch (e.g. a schedule with `at:`)
        # reports that branch's own problem, which is more precise than the summary.
        picked = _picked_branch(err)
        if picked is not None:
            yield from _leaves(picked)
            return
        yield err
        return
    if err.validator in ("oneOf", "anyOf") and err.context:
        best = best_match(err.context)
        if best is not None:
            yield from _leaves(best)
            return
    yield err


def _picked_branch(err: ValidationError) -> ValidationError | None:
    """For a oneOf of objects told apart by a required key, the error inside the chosen branch."""
    if err.validator != "oneOf" or not err.context or not isinstance(err.instance, dict):
        return None
    branches: list[Any] = list(err.validator_value) if isinstance(err.validator_value, list) else []
    chosen = [
        i
        for i, branch in enumerate(branches)
        if isinstance(branch, dict) and branch.get("required") and all(k in err.instance for k in branch["required"])
    ]
    if len(chosen) != 1:
        return None
    inner = [e for e in err.context if e.relative_schema_path[0] == chosen[0]]
    return best_match(inner) if inner else None


def _x_message(err: ValidationError) -> str | None:
    schema = err.schema if isinstance(err.schema, dict) else {}
    msg = schema.get("x-message")
    return msg if isinstance(msg, str) else None


def _locate(err: ValidationError, doc: Document) -> tuple[tuple[str | int, ...], str]:
    path = tuple(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict) and isinstance(err.schema, dict):
        allowed = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        if extra:
            more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
            close = difflib.get_close_matches(extra[0], sorted(allowed), n=1, cutoff=0.75)
            if close:  # a typo: one suggestion reads better than the whole list
                return (*path, extra[0]), f"unknown key {extra[0]!r}{more}; did you mean {close[0]!r}?"
            known = ", ".join(sorted(allowed))
            return (*path, extra[0]), f"unknown key {extra[0]!r}{more}; allowed keys: {known}"
    if err.validator == "not" and isinstance(err.instance, dict):
        forbidden = err.validator_value.get("required", []) if isinstance(err.validator_value, dict) else []
        present = [k for k in forbidden if k in err.instance]
        if present:
            path = (*path, present[-1])
    message = _x_message(err) or _message(err)
    return path, message


def _message(err: ValidationError) -> str:
    where = ".".join(str(p) for p in err.absolute_path)
    if err.validator == "required":
        return err.message.replace("is a required property", "is required") + (f" in {where}" if where else "")
    if err.validator == "type":
        return f"{where or 'value'}: expected {err.validator_value}, got {_json_type(err.instance)}"
    if err.validator == "enum":
        choices = ", ".join(
            json.dumps(v) for v in (err.validator_value if isinstance(err.validator_value, list) else [])
        )
        return f"{where or 'value'}: {json.dumps(err.instance)} is not one of {choices}"
    if err.validator in ("minLength", "maxLength") and isinstance(err.instance, str):
        bound = "at least" if err.validator == "minLength" else "at most"
        empty = " (it is empty)" if not err.instance else f" (it has {len(err.instance)})"
        return f"{where or 'value'}: must have {bound} {err.validator_value} character(s){empty}"
    if err.validator in ("minItems", "maxItems") and isinstance(err.instance, list):
        bound = "at least" if err.validator == "minItems" else "at most"
        return f"{where or 'value'}: must list {bound} {err.validator_value} item(s) (it has {len(err.instance)})"
    return f"{where}: {err.message}" if where else err.message


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
