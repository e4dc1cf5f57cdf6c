"""Audience preflight: counts equal Pardot's (the sandbox's) rule; the cap holds, approval releases."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.audience import AudienceIndex
from tests.helpers import REPO, copy_example, run

NOW = "2026-11-27T12:00:00Z"


@settings(max_examples=200, deadline=None)
@given(
    members=st.dictionaries(st.integers(1, 5), st.sets(st.integers(1, 40), max_size=25), max_size=5),
    deleted=st.sets(st.integers(1, 40), max_size=5),
    opted_out=st.sets(st.integers(1, 40), max_size=10),
    lists=st.sets(st.integers(1, 5), min_size=1, max_size=3),
    suppression=st.sets(st.integers(1, 5), max_size=2),
    operational=st.booleans(),
)
def test_count_matches_a_brute_force_definition(
    members: dict[int, set[int]],
    deleted: set[int],
    opted_out: set[int],
    lists: set[int],
    suppression: set[int],
    operational: bool,
) -> None:
    index = AudienceIndex(
        datetime(2027, 1, 1, tzinfo=UTC), members=members, prospects=set(range(1, 41)) - deleted, opted_out=opted_out
    )
    expected = {
        p
        for p in range(1, 41)
        if p not in deleted
        and any(p in members.get(lst, set()) for lst in lists)
        and not any(p in members.get(s, set()) for s in suppression)
        and (operational or p not in opted_out)
    }
    assert index.count(lists, suppression, operational) == len(expected)


def test_overlap_suppression_and_opt_out_by_hand() -> None:
    index = AudienceIndex(
        datetime(2027, 1, 1, tzinfo=UTC),
        members={1: {1, 2, 3}, 2: {3, 4}, 3: {4}},
        prospects={1, 2, 3, 4},
        opted_out={2},
    )
    assert index.count([1, 2], [], False) == 3  # 1, 3, 4 (3 counted once, 2 opted out)
    assert index.count([1, 2], [3], False) == 2  # 4 suppressed
    assert index.count([1, 2], [3], True) == 3  # operational ignores the opt-out of 2


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "example")


def seed_count(list_ids: list[int], suppression: list[int], operational: bool) -> int:
    """A direct computation on the demo seed file the sandbox was seeded from."""
    seed = yaml.safe_load((REPO / "orchestrator" / "sandbox" / "demo_seed.yaml").read_text())
    count = 0
    for prospect in seed["prospects"]:
        on = set(prospect.get("lists", []))
        if prospect.get("deleted"):
            continue
        if on & set(list_ids) and not on & set(suppression) and (operational or not prospect.get("opted_out")):
            count += 1
    return count


def test_plan_audience_equals_seed_and_sandbox_recipients(project: Path) -> None:
    code, out, _ = run(project, "plan", "--audience", "--format", "json", "--now", NOW)
    assert code == 0, out
    counts = {c["key"]: c["audience"]["recipients"] for c in json.loads(out)["changes"] if c["kind"] == "list"}
    assert counts["spring-sale@2027-03-01T14:00:00Z"] == seed_count([2001, 2002], [2003], False)
    assert counts["welcome-back@2027-01-12T15:30:00Z"] == seed_count([2002], [2003], False)
    assert len(set(counts.values())) > 1
    code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 0, out + err
    from orchestrator.config import load_config
    from orchestrator.connect import sandbox_app
    from orchestrator.sandbox import inprocess_transport

    env = load_config(project).environment("sandbox")
    with httpx.Client(transport=inprocess_transport(sandbox_app(env, project)), base_url="http://sandbox.local") as c:
        recipients = {e["name"]: e["recipients"] for e in c.get("/_sandbox/emails").json()["emails"]}
    for key, count in counts.items():
        assert recipients[key] == count, key


def test_max_recipients_holds_and_approval_releases(project: Path, tmp_path: Path) -> None:
    sale = project / "campaigns" / "spring-sale.yaml"
    sale.write_text(sale.read_text() + "policy: {max_recipients: 10}\n")
    code, out, _ = run(project, "plan", "--now", NOW)  # the cap makes the count automatic
    assert code == 0, out
    assert "HELD:" in out and "--approve-large spring-sale" in out
    plan_file = tmp_path / "plan.json"
    code, out, _ = run(project, "plan", "--now", NOW, "--out", str(plan_file))
    assert code == 0
    saved = json.loads(plan_file.read_text())
    held = next(c for c in saved["changes"] if c["campaign"] == "spring-sale")
    assert held["over_cap"] is True and held["audience"]["recipients"] > 10 and held["audience"]["counted_at"]

    code, out, _ = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 3  # held over max_recipients: needs a human
    assert "held      spring-sale@2027-03-01T14:00:00Z" in out
    code, out, _ = run(project, "apply", "--auto-approve", "--approve-large", "spring-sale", "--now", NOW)
    assert code == 0, out
    assert "scheduled spring-sale@2027-03-01T14:00:00Z" in out
    code, out, _ = run(project, "state", "show", "spring-sale@2027-03-01T14:00:00Z")
    assert [e["action"] for e in json.loads(out)["journal"]] == ["approve-large", "intent", "scheduled"]


def _sandbox_email_names(project: Path) -> set[str]:
    from orchestrator.config import load_config
    from orchestrator.connect import sandbox_app
    from orchestrator.sandbox import inprocess_transport

    env = load_config(project).environment("sandbox")
    with httpx.Client(transport=inprocess_transport(sandbox_app(env, project)), base_url="http://sandbox.local") as c:
        return {e["name"] for e in c.get("/_sandbox/emails").json()["emails"]}


def _forged_counts(path: Path, key: str, counted_at: str) -> None:
    """A count file saying nobody is on any list, counted just now: what a pull request could commit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"key": key, "counted_at": counted_at, "members": {}, "prospects": [], "opted_out": []}
    path.write_text(json.dumps(document))


def test_an_edited_count_in_a_saved_plan_cannot_lift_the_cap(project: Path, tmp_path: Path) -> None:
    """A saved plan's audience count is only the file's word: the checksum is no signature, so an
    edited count (checksum recomputed) must not turn a held send into a sent one. Applying it
    counts afresh, even right after the plan counted, and holds on either count."""
    from orchestrator.digest import digest

    sale = project / "campaigns" / "spring-sale.yaml"
    sale.write_text(sale.read_text() + "policy: {max_recipients: 10}\n")
    plan_file = tmp_path / "plan.json"
    code, out, err = run(project, "plan", "--now", NOW, "--out", str(plan_file))
    assert code == 0, out + err
    document = json.loads(plan_file.read_text())
    held = next(c for c in document["changes"] if c["campaign"] == "spring-sale")
    assert held["over_cap"] is True
    held["audience"]["recipients"], held["over_cap"] = 3, False  # consistent with the cap, and false
    body = {k: v for k, v in document.items() if k != "checksum"}
    plan_file.write_text(json.dumps({**body, "checksum": digest(body)}))

    code, out, err = run(project, "apply", str(plan_file), "--now", NOW)
    assert code == 3, out + err  # held over max_recipients: needs a human
    assert "held      spring-sale@2027-03-01T14:00:00Z" in out
    assert "Counting audiences" in err and "Reusing" not in err
    sent = _sandbox_email_names(project)
    assert "spring-sale@2027-03-01T14:00:00Z" not in sent
    assert sent  # the other sends of the plan went out


def test_a_count_file_in_the_checkout_is_never_read(project: Path) -> None:
    """Counts are reused only from the user's cache folder: a file a pull request commits to
    the project (where earlier versions kept them) cannot lift a hold."""
    sale = project / "campaigns" / "spring-sale.yaml"
    sale.write_text(sale.read_text() + "policy: {max_recipients: 10}\n")
    # The file and key earlier versions read: this forgery released the send then.
    key = "sandbox|0Uv000000SANDBOXAA|3 years ago"
    _forged_counts(project / ".orchestrator" / "audience-sandbox.json", key, "2026-11-27T11:59:00+00:00")
    code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 3, out + err
    assert "Counting audiences" in err and "held      spring-sale@2027-03-01T14:00:00Z" in out
    assert "spring-sale@2027-03-01T14:00:00Z" not in _sandbox_email_names(project)


def test_a_second_count_within_the_window_reuses_the_exports(project: Path) -> None:
    code, first, err = run(project, "plan", "--audience", "--format", "json", "--now", NOW)
    assert code == 0 and "Counting audiences" in err
    (cache,) = (Path(os.environ["ORCHESTRATOR_CACHE_DIR"]) / "audience").iterdir()
    assert cache.stat().st_mode & 0o077 == 0  # prospect ids: owner only
    assert not list((project / ".orchestrator").glob("audience*"))  # never in the checkout
    code, again, err = run(project, "plan", "--audience", "--format", "json", "--now", "2026-11-27T12:10:00Z")
    assert code == 0 and "Reusing audience counts from exports made at 2026-11-27T12:00:00+00:00" in err
    counted = [c["audience"] for c in json.loads(again)["changes"] if c["audience"]]
    assert counted and all(a["counted_at"].startswith("2026-11-27T12:00:00") for a in counted)
    audiences = [[c["audience"] for c in json.loads(doc)["changes"]] for doc in (first, again)]
    assert audiences[0] == audiences[1]
    # Past the window (15 min) the exports run again.
    code, _, err = run(project, "plan", "--audience", "--now", "2026-11-27T12:20:00Z")
    assert code == 0 and "Counting audiences" in err


def test_the_count_cache_lives_in_the_users_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from orchestrator.audience import cache_path

    named = cache_path("k", {"ORCHESTRATOR_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x"})
    assert named is not None and named.parent == Path("/c/audience")
    xdg = cache_path("k", {"XDG_CACHE_HOME": "/x"})
    assert xdg is not None and xdg.parent == Path("/x/orchestrator/audience")
    monkeypatch.setenv("HOME", str(tmp_path))
    home = cache_path("k", {})
    assert home is not None and home.parent == tmp_path / ".cache" / "orchestrator" / "audience"
    assert cache_path("other", {}) != home  # one file per project, environment and business unit

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", no_home)
    assert cache_path("k", {}) is None  # no reuse rather than a traceback
