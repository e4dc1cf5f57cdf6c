"""Seeds: validation, deterministic generation, and seeding a file database only once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sandbox_helpers import AUTH, Clock, parse, send_form

from orchestrator.errors import OrchestratorError
from orchestrator.sandbox import SANDBOX_BASE_URL, SandboxApp, inprocess_transport
from orchestrator.sandbox.app import SeedChanged
from orchestrator.sandbox.errors import SandboxSeedError
from orchestrator.sandbox.seed import GenerateSpec, demo_seed_path, generate_prospects, load_seed

BASE: dict[str, Any] = {"lists": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}


def dump(app: SandboxApp) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with app.store.reading() as conn:
        prospects = [tuple(r) for r in conn.execute("SELECT * FROM prospects ORDER BY id")]
        members = [tuple(r) for r in conn.execute("SELECT * FROM list_members ORDER BY id")]
    return prospects, members


def generated(seed: int, count: int = 500) -> SandboxApp:
    spec = {"count": count, "lists": {1: 0.5, 2: 0.25}, "opted_out": 0.1, "seed": seed}
    return SandboxApp(seed={**BASE, "generate_prospects": spec}, clock=Clock())


def test_generation_is_deterministic() -> None:
    a, b, c = generated(1), generated(1), generated(2)
    assert dump(a) == dump(b)
    assert dump(a) != dump(c)
    prospects, _ = dump(a)
    assert len(prospects) == 500
    assert [p[0] for p in prospects] == list(range(100_000, 100_500))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 400))
def test_generation_is_lazy_and_repeatable(seed: int, count: int) -> None:
    spec = GenerateSpec(count=count, list_shares=((1, 0.5),), opted_out=0.2, seed=seed, start_id=10)
    stream = generate_prospects(spec)
    assert iter(stream) is stream  # a generator, not a list
    assert list(stream) == list(generate_prospects(spec))


def test_generated_shares_are_roughly_respected() -> None:
    spec = GenerateSpec(count=20_000, list_shares=((1, 0.5), (2, 0.25)), opted_out=0.1, seed=3, start_id=1)
    people = list(generate_prospects(spec))
    on_1 = sum(1 in p.lists for p in people) / len(people)
    on_2 = sum(2 in p.lists for p in people) / len(people)
    opted = sum(p.opted_out for p in people) / len(people)
    assert 0.47 < on_1 < 0.53 and 0.22 < on_2 < 0.28 and 0.08 < opted < 0.12


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ({"lists": [{"id": 1}]}, "'name' is a required property"),
        ({"campaigns": [{"id": "x", "name": "c"}]}, "campaigns.0.id"),
        ({"surprise": 1}, "Additional properties"),
        ({**BASE, "prospects": [{"id": 1, "email": "a@x.io", "lists": [9]}]}, "unknown list"),
        ({**BASE, "lists": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]}, "duplicate list id 1"),
        ({**BASE, "generate_prospects": {"count": 5, "lists": {7: 0.5}}}, "unknown list 7"),
        ({**BASE, "generate_prospects": {"count": 5, "opted_out": 2}}, "generate_prospects.opted_out"),
        (
            {**BASE, "prospects": [{"id": 100_001, "email": "a@x.io"}], "generate_prospects": {"count": 5}},
            "collide",
        ),
        ({"reference_time": "soon"}, "reference_time"),
    ],
)
def test_bad_seeds_are_the_sandboxs_own_seed_errors(seed: dict[str, Any], message: str) -> None:
    with pytest.raises(SandboxSeedError, match=message) as caught:
        load_seed(seed)
    assert not isinstance(caught.value, OrchestratorError)  # connect.sandbox_app translates it


def test_bad_seed_files_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "seed.yaml"
    bad.write_text("lists: [unclosed\n")
    with pytest.raises(SandboxSeedError, match=r"seed\.yaml: invalid YAML"):
        load_seed(bad)
    with pytest.raises(SandboxSeedError, match="cannot read"):
        load_seed(tmp_path / "missing.yaml")


def test_yaml_seed_is_loaded_safely(tmp_path: Path) -> None:
    evil = tmp_path / "seed.yaml"
    evil.write_text("campaigns: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(SandboxSeedError, match="invalid YAML"):
        load_seed(evil)


def test_demo_seed_matches_the_example_project() -> None:
    seed = load_seed(None)
    assert seed.campaigns == ((1001, "spring-2027"),)
    assert seed.lists == ((2001, "newsletter"), (2002, "customers"), (2003, "competitors"))
    assert seed.users[0][:2] == (3001, "jane@example.com")
    assert {t.id: (t.name, t.is_list_email, t.is_one_to_one_email, t.archived) for t in seed.templates} == {
        4001: ("welcome", True, True, False),
        4002: ("follow-up", False, True, False),
        4003: ("old-promo", True, True, True),
    }
    emails = {p.id: p.email for p in seed.prospects}
    assert emails[1234] == "ada@example.com"
    assert "jane.prospect@example.com" in emails.values()
    assert sum(5001 <= i <= 5050 for i in emails) == 50
    assert any(p.opted_out for p in seed.prospects)
    assert yaml.safe_load(demo_seed_path().read_text())["operational_email_enabled"] is True


def test_file_database_is_seeded_only_when_new(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    first = SandboxApp(db_path=db)
    with httpx.Client(transport=inprocess_transport(first), base_url=SANDBOX_BASE_URL, headers=AUTH) as c:
        form = send_form(campaign_id=1001, list_ids=[2001], email_template_id=4001)
        email_id = parse(c.post("/api/email/version/4/do/send", data={"format": "json", **form})).body["email"]["id"]
    first.close()
    # A different seed is not silently ignored (test_sandbox_as_users_meet_it.py covers it).
    with pytest.raises(SeedChanged):
        SandboxApp(db_path=db, seed={"campaigns": [{"id": 1, "name": "other"}]})
    second = SandboxApp(db_path=db)
    with httpx.Client(transport=inprocess_transport(second), base_url=SANDBOX_BASE_URL, headers=AUTH) as c:
        assert [e["id"] for e in c.get("/_sandbox/emails").json()["emails"]] == [email_id]
        read = parse(c.get(f"/api/email/version/4/do/read/id/{email_id}", params={"format": "json"}))
        assert read.stat == "ok"
    with second.store.reading() as conn:
        assert [tuple(r) for r in conn.execute("SELECT * FROM campaigns")] == [(1001, "spring-2027")]
    second.close()


def _open_descriptors(path: Path) -> int:
    """How many of this process's file descriptors point at ``path`` (Linux /proc)."""
    fds = Path("/proc/self/fd")
    found = 0
    for fd in fds.iterdir():
        try:
            found += Path(os.readlink(fd)) == path
        except OSError:
            continue
    return found


def test_a_refused_seed_leaves_no_database_open(tmp_path: Path) -> None:
    """The database opens before the seed is checked; a refusal closes it again (a long-lived
    process such as the test suite or `sandbox serve` retries would otherwise pile them up)."""
    db = tmp_path / "sandbox.db"
    SandboxApp(db_path=db).close()
    assert _open_descriptors(db) == 0
    with pytest.raises(SeedChanged) as refused:
        SandboxApp(db_path=db, seed={"campaigns": [{"id": 1, "name": "other"}]})
    assert refused.traceback  # the half-built application is still referenced from here
    assert _open_descriptors(db) == 0
