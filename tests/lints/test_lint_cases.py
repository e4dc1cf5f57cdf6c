"""Every folder under tests/lints/cases/ is one lint case (a new case is a new folder).

``email.yaml`` holds the rendered parts (``subject``, ``text``, ``html``, ``kind``; optionally
``pad_html_to: BYTES`` to grow the HTML with a comment, so big cases need no big files);
``expected.txt`` lists one finding per line as ``lint`` or ``lint LINE`` (rendered HTML line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.lints import LINTS, lint_email

CASES = Path(__file__).parent / "cases"


def _cases() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if p.is_dir())


def _load(case: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((case / "email.yaml").read_text(encoding="utf-8"))
    html = doc.get("html")
    pad = doc.get("pad_html_to")
    if pad and isinstance(html, str):
        missing = int(pad) - len(html.encode("utf-8")) - len("<!---->")
        doc["html"] = html + "<!--" + "x" * missing + "-->"
        assert len(doc["html"].encode("utf-8")) == int(pad)
    return doc


def _expected(case: Path) -> list[tuple[str, int | None]]:
    out: list[tuple[str, int | None]] = []
    for line in (case / "expected.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, where = line.strip().partition(" ")
        assert name in LINTS, f"{case.name}: unknown lint {name!r}"
        out.append((name, int(where) if where else None))
    return sorted(out, key=str)


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.name)
def test_lint_case(case: Path) -> None:
    doc = _load(case)
    findings = lint_email(doc.get("subject"), doc.get("text"), doc.get("html"), kind=str(doc.get("kind", "list")))
    expected = _expected(case)
    names = sorted(f.lint for f in findings)
    assert names == sorted(n for n, _ in expected), "\n".join(f"{f.lint} {f.line}: {f.message}" for f in findings)
    by_lint: dict[str, list[int]] = {}
    for f in findings:
        by_lint.setdefault(f.lint, []).append(f.line)
    for name, line in expected:
        if line is not None:
            assert line in by_lint[name], f"{name} expected on line {line}, found on {by_lint[name]}"


def test_every_lint_has_a_case_that_fires_it() -> None:
    fired = {name for case in _cases() for name, _ in _expected(case)}
    assert fired | {"broken-link"} == set(LINTS)  # broken-link needs a server: tests/lints/test_linkcheck.py


def test_schemas_name_exactly_the_lints() -> None:
    import json

    root = Path(__file__).resolve().parents[2] / "schemas"
    for name in ("config.schema.json", "campaign.schema.json"):
        schema = json.loads((root / name).read_text())
        assert schema["$defs"]["lints"]["propertyNames"]["enum"] == list(LINTS), name


def test_each_lint_is_one_registered_function() -> None:
    """One registry: a lint is a function registered under its name, and it reports only that name."""
    from orchestrator.lints import REGISTRY, Email

    assert [entry.name for entry in REGISTRY] == list(LINTS)
    assert [entry.name for entry in REGISTRY if entry.check is None] == ["broken-link"]  # orchestrator/linkcheck.py
    for case in _cases():
        doc = _load(case)
        email = Email(doc.get("subject"), doc.get("text"), doc.get("html"), str(doc.get("kind", "list")))
        for entry in REGISTRY:
            if entry.check is not None:
                assert {f.lint for f in entry.check(email)} <= {entry.name}, (case.name, entry.name)
