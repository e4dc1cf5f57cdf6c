"""``state reconcile``: unknown list sends settled from the v5 list-email query.

Real parts: the sandbox (which implements the v5 query) through the real client, the real
SQLite state. A send whose answer was lost (fault ``drop-after``) is found by name and recorded
as sent; a send that never reached Pardot is recorded as not sent only when absence is proven.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.reconcile import ABSENCE_SETTLE, reconcile
from orchestrator.sandbox import SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp, inprocess_transport
from orchestrator.state import open_store
from orchestrator.state.models import SendStatus
from tests.helpers import NOW, run

CONFIG = (
    "version: 1\ntimezone: UTC\nenvironments:\n  sandbox:\n"
    "    api: {{kind: sandbox{faults}}}\n"
    "    state: {{backend: sqlite, path: state.db}}\n"
    "    ids: {{campaigns: {{c: 1001}}, lists: {{newsletter: 2001}}}}\n"
)
CAMPAIGN = (
    "name: {name}\ncampaign: c\nlists: [newsletter]\nsender: {{name: A, email: a@example.com}}\n"
    "subject: s\ntext: '%%unsubscribe%%'\n"
)


def _project(root: Path, *names: str, faults: str = "") -> Path:
    (root / "campaigns").mkdir(parents=True, exist_ok=True)
    (root / "orchestrator.yaml").write_text(CONFIG.format(faults=faults))
    for name in names:
        (root / "campaigns" / f"{name}.yaml").write_text(CAMPAIGN.format(name=name))
    return root


def _statuses(root: Path) -> dict[str, str]:
    _, out, _ = run(root, "state", "list", "--json")
    return {s["key"]: s["status"] for s in json.loads(out)["sends"]}


def test_a_send_whose_answer_was_lost_is_found_and_recorded_as_sent(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", "a", faults=", faults: {drop-after: 1.0}, fault_seed: 1")
    code, out, _ = run(root, "apply", "--auto-approve", "--now", NOW)
    assert code == 3, out  # something needs a human: the outcome is unknown
    assert _statuses(root) == {"a@now": "unknown"}
    (root / "orchestrator.yaml").write_text(CONFIG.format(faults=""))  # Pardot answers again
    code, out, err = run(root, "state", "reconcile", "--dry-run")
    assert code == 0 and "a@now: would record sent (email 70001)" in out, out + err
    assert _statuses(root) == {"a@now": "unknown"}
    code, out, err = run(root, "state", "reconcile")
    assert code == 0, out + err
    assert "a@now: recorded sent (email 70001)" in out and "1 resolved, 0 still unknown" in out
    assert _statuses(root) == {"a@now": "sent"}
    _, shown, _ = run(root, "state", "show", "a@now")
    entry = json.loads(shown)["journal"][-1]
    assert entry["action"] == "reconcile" and entry["detail"]["email_id"] == 70001
    code, out, _ = run(root, "plan", "--now", NOW)
    assert "1 unchanged" in out
    code, out, _ = run(root, "state", "reconcile")
    assert code == 0 and "Nothing to reconcile" in out


def _client(app: SandboxApp) -> PardotClient:
    settings = ApiSettings(SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, StaticTokenAuth(SANDBOX_TOKEN), allow_insecure=True)
    return PardotClient(settings, transport=inprocess_transport(app))


def _with_lost_intent(root: Path, *, age: timedelta, known_email: bool) -> tuple[Path, datetime]:
    """A project whose state holds an intent for ``b@now`` that never reached Pardot.

    With ``known_email``, ``a@now`` was sent first, so the v5 API can be seen to show emails
    sent through v3/v4. The intent is ``age`` old on the returned clock.
    """
    _project(root, "a", "b")
    (root / "campaigns" / "b.yaml").unlink()
    if known_email:
        code, out, err = run(root, "apply", "--auto-approve", "--now", NOW)
        assert code == 0, out + err
    store = open_store("sqlite", path=root / "state.db")
    now = datetime.now(UTC)
    base = store.get("a@now")
    if base is None:  # no send yet: borrow the shape of a record from a throwaway apply
        code, out, err = run(root, "apply", "--auto-approve", "--now", NOW)
        base = store.get("a@now")
        assert base is not None
        store.put(dataclasses.replace(base, status=SendStatus.NOT_SENT, email_id=None), action="test")
        _forget_sandbox_emails(root)
    payload = {**base.payload, "name": "b@now"}
    lost = dataclasses.replace(
        base,
        key="b@now",
        payload=payload,
        status=SendStatus.INTENT,
        email_id=None,
        created_at=now - age,
        updated_at=now - age,
    )
    store.put(lost, action="intent")
    store.close()
    return root, now


def _forget_sandbox_emails(root: Path) -> None:
    from orchestrator.sandbox.app import remove_database

    remove_database(root / ".orchestrator" / "sandbox-api.db")


def _reconcile(root: Path, now: datetime) -> dict[str, tuple[str, str]]:
    store = open_store("sqlite", path=root / "state.db")
    app = SandboxApp(db_path=root / ".orchestrator" / "sandbox-api.db")
    try:
        with _client(app) as client:
            return {o.key: (o.resolution, o.reason) for o in reconcile(store, client, now)}
    finally:
        app.close()
        store.close()


def test_proven_absence_is_recorded_as_not_sent(tmp_path: Path) -> None:
    root, now = _with_lost_intent(tmp_path / "p", age=timedelta(hours=1), known_email=True)
    result = _reconcile(root, now)
    assert result["b@now"][0] == "not-sent", result
    assert _statuses(root)["b@now"] == "not-sent"


def test_absence_is_not_trusted_before_the_v5_cache_has_settled(tmp_path: Path) -> None:
    root, now = _with_lost_intent(tmp_path / "p", age=ABSENCE_SETTLE - timedelta(seconds=30), known_email=True)
    resolution, reason = _reconcile(root, now)["b@now"]
    assert resolution == "unknown" and "may lag up to 60 s" in reason
    assert _statuses(root)["b@now"] == "intent"


def test_absence_is_not_trusted_without_a_known_email_to_confirm_v5_sees_v4_sends(tmp_path: Path) -> None:
    root, now = _with_lost_intent(tmp_path / "p", age=timedelta(hours=1), known_email=False)
    resolution, reason = _reconcile(root, now)["b@now"]
    assert resolution == "unknown" and "no list email of this project is known yet" in reason


def test_two_emails_with_the_send_name_stay_unknown(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", "a", faults=", faults: {drop-after: 1.0}, fault_seed: 1")
    run(root, "apply", "--auto-approve", "--now", NOW)
    (root / "orchestrator.yaml").write_text(CONFIG.format(faults=""))
    app = SandboxApp(db_path=root / ".orchestrator" / "sandbox-api.db")
    with _client(app) as client:  # someone sent it again by hand under the same name
        from orchestrator.pardot.models import ListEmailSend

        client.send_list_email(
            ListEmailSend(
                campaign_id=1001,
                list_ids=(2001,),
                name="a@now",
                subject="s",
                text_content="%%unsubscribe%%",
                from_email="a@example.com",
                from_name="A",
            )
        )
    app.close()
    code, out, _ = run(root, "state", "reconcile")
    assert code == 3 and "2 list emails named 'a@now'" in out and "still unknown" in out
