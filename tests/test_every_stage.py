"""Every stage's errors for a file in one run, and never a traceback on the way.

A file the schema refuses still has its sound parts (schedule, content) checked by the later
stages (tests/cases/invalid/every-stage-in-one-run). Those stages read only keys the schema did
not object to; this property throws arbitrary values at every key of a valid campaign to make
sure that promise holds: validate answers with located problems, never a crash.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import invoke

CASES = Path(__file__).parent / "cases"
VALID: dict[str, Any] = {
    "name": "a",
    "campaign": "spring-2027",
    "lists": ["newsletter"],
    "sender": {"name": "Acme", "email": "news@example.com"},
    "subject": "Hello {{ who }}",
    "text": "Bye: %%unsubscribe%%",
    "html": '<a href="%%unsubscribe%%">u</a>',
    "vars": {"who": "you"},
    "schedule": {"cron": "0 9 * * MON"},
}
KEYS = [*VALID, "suject", "issues", "text_file", "html_file", "template", "prospects", "kind", "policy"]
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(KEYS), VALUES | st.just("<drop>"), min_size=1, max_size=4))
def test_any_broken_campaign_gives_located_problems_not_a_crash(tmp_path: Path, changes: dict[str, Any]) -> None:
    root = tmp_path / "p"
    shutil.rmtree(root, ignore_errors=True)
    (root / "campaigns").mkdir(parents=True)
    shutil.copy(CASES / "base.orchestrator.yaml", root / "orchestrator.yaml")
    data = {**VALID, **changes}
    data = {k: v for k, v in data.items() if v != "<drop>"}
    (root / "campaigns" / "a.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    code, out, err = invoke("--project", str(root), "validate", "--format", "json", "--now", "2027-01-01T00:00:00Z")
    assert code in (0, 1), out + err
    report = json.loads(out)
    assert all(p["path"] for p in report["problems"])
