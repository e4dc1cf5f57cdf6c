"""``orchestrator import email`` through the real CLI against the in-process sandbox.

The list emails are made the way the tool makes them: the example project is applied to a
sandbox, and a second project folder (its own state, the same sandbox) imports them.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from tests.helpers import NOW, copy_example, sandbox_emails
from tests.helpers import run_at_now as run

SPRING = "spring-sale@2027-03-01T14:00:00Z"
SENDER = ("--sender-name", "Acme News", "--sender-email", "news@example.com")
LISTS = ("--list", "newsletter", "--list", "customers", "--suppression-list", "competitors")


BRACES = "braces@2027-02-01T14:00:00Z"
#: A campaign whose sent content holds what Jinja and HML read as their own.
BRACES_FILE = r"""
name: braces
campaign: spring-2027
lists: [newsletter]
sender: {name: Acme News, email: news@example.com}
subject: "{{ '{{' }}Recipient.FirstName}}, {{ '{%' }} off {{ '{#' }}"
text: "Hi {{Recipient.FirstName}} %%first_name%%,\n{{ '{{' }} price }} {{ '{' }}{x}\n%%unsubscribe%%\n"
html: "<p>Hi {{{Recipient.Street}}}{{ '\\r' }}\n{{ '{%' }} raw {{ '{{' }}</p><a href='%%unsubscribe%%'>u</a>"
schedule: {at: "2027-02-01T14:00:00Z"}
"""


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_example(tmp_path_factory.mktemp("applied") / "example")
    (project / "campaigns" / "braces.yaml").write_text(BRACES_FILE)
    code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 0, out + err
    return project


def adopter(root: Path, applied: Path) -> Path:
    """A project with no campaigns and no state, on a copy of ``applied``'s sandbox (the sandbox
    database must live inside the project folder)."""
    project = copy_example(root)
    for path in sorted((project / "campaigns").glob("*.yaml")):
        path.unlink()
    (project / "campaigns" / "newsletter").joinpath("weekly.yaml").unlink()
    (project / ".orchestrator").mkdir()
    with (
        sqlite3.connect(applied / ".orchestrator" / "sandbox-api.db") as source,
        sqlite3.connect(project / ".orchestrator" / "sandbox-api.db") as copy,
    ):
        source.backup(copy)
    return project


def email_id(project: Path, name: str) -> int:
    return next(int(e["id"]) for e in sandbox_emails(project) if e["name"] == name)


def test_a_scheduled_list_email_is_adopted_and_never_scheduled_twice(applied: Path, tmp_path: Path) -> None:
    project = adopter(tmp_path / "adopter", applied)
    spring = email_id(applied, SPRING)
    before = len(sandbox_emails(project))
    code, out, err = run(project, "import", "email", str(spring), *LISTS, *SENDER, "--now", NOW)
    assert code == 0, out + err
    assert f"{SPRING} recorded as scheduled (email {spring})" in out, out
    written = project / "campaigns" / "spring-sale.yaml"
    data = yaml.safe_load(written.read_text())
    assert data["campaign"] == "spring-2027" and data["lists"] == ["newsletter", "customers"]
    assert data["schedule"] == {"at": "2027-03-01T14:00:00Z"}
    assert "20% off" in data["subject"] and "%%unsubscribe%%" in data["text"]

    assert run(project, "validate")[0] == 0
    code, out, err = run(project, "plan", "--detailed-exitcode", "--now", NOW)
    assert code == 0, out + err
    code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 0, out + err
    assert len(sandbox_emails(project)) == before  # nothing sent or scheduled again

    code, out, _ = run(project, "state", "show", SPRING)
    shown = json.loads(out)
    assert shown["status"] == "scheduled" and shown["email_id"] == spring
    assert shown["journal"][-1]["action"] == "import"


def payload(project: Path, key: str) -> dict[str, object]:
    code, out, err = run(project, "state", "show", key)
    assert code == 0, out + err
    shown: dict[str, object] = json.loads(out)["payload"]
    return shown


def test_rendering_the_imported_file_gives_pardots_content(applied: Path, tmp_path: Path) -> None:
    """What the imported file renders to is what the first project sent, byte for byte: Jinja-like
    text, HML tags, PML tags and carriage returns included."""
    project = adopter(tmp_path / "adopter", applied)
    code, out, err = run(project, "import", "email", str(email_id(applied, BRACES)), *LISTS, *SENDER, "--now", NOW)
    assert code == 0, out + err
    written = (project / "campaigns" / "braces.yaml").read_text()
    assert "{{Recipient.FirstName}}" in written and "{{ '{{' }} price }}" in written
    assert "html_file: braces.html.j2" in written
    html = (project / "campaigns" / "braces.html.j2").read_bytes()
    assert html.startswith(b"<p>Hi {{{Recipient.Street}}}{{ '\\r' }}\n{{ '{%' }} raw")
    sent, adopted = payload(applied, BRACES), payload(project, BRACES)
    for part in ("subject", "text_content", "html_content"):
        assert adopted[part] == sent[part], part
    assert "{{ price }}" in str(sent["text_content"]) and "\r\n" in str(sent["html_content"])


def test_ids_of_lists_named_by_id_are_printed_to_paste(applied: Path, tmp_path: Path) -> None:
    project = adopter(tmp_path / "adopter", applied)
    config = project / "orchestrator.yaml"
    config.write_text(config.read_text().replace("newsletter: 2001, ", ""))
    spring = email_id(applied, SPRING)
    code, out, err = run(
        project, "import", "email", str(spring), "--list", "2001", "--sender-user", "jane", "--now", NOW
    )
    assert code == 0, out + err
    assert "ids:\n  lists:\n" in out and ": 2001" in out, out
    assert run(project, "validate")[0] == 0


def test_list_ids_the_environment_names_are_written_by_name(applied: Path, tmp_path: Path) -> None:
    project = adopter(tmp_path / "adopter", applied)
    spring = email_id(applied, SPRING)
    code, out, err = run(project, "import", "email", str(spring), "--list", "2001", *SENDER, "--now", NOW)
    assert code == 0 and "ids:" not in out, out + err
    assert yaml.safe_load((project / "campaigns" / "spring-sale.yaml").read_text())["lists"] == ["newsletter"]


@pytest.mark.parametrize("later", ["2027-03-02T12:00:00Z", "2027-06-01T12:00:00Z"])  # inside, past the lookback
def test_a_sent_list_email_is_recorded_sent(applied: Path, tmp_path: Path, later: str) -> None:
    """By then the sandbox has sent spring-sale; the next plan is a no-op, even months later."""
    project = adopter(tmp_path / "adopter", applied)
    spring = email_id(applied, SPRING)
    code, out, err = run(project, "import", "email", str(spring), *LISTS, *SENDER, "--now", later)
    assert code == 0, out + err
    assert f"{SPRING} recorded as sent" in out, out
    code, out, err = run(project, "plan", "--detailed-exitcode", "--now", later)
    assert code == 0, out + err


def test_refusals(applied: Path, tmp_path: Path) -> None:
    project = adopter(tmp_path / "adopter", applied)
    spring = email_id(applied, SPRING)
    one_to_one = email_id(applied, "demo-followup/1234")

    code, out, err = run(project, "import", "email", "999999", *LISTS, *SENDER, "--now", NOW)
    assert code == 1 and "Pardot has no email 999999" in err, out + err
    code, out, err = run(project, "import", "email", str(one_to_one), *LISTS, *SENDER, "--now", NOW)
    assert code == 1 and "is a one-to-one email" in err, out + err
    code, out, err = run(project, "import", "email", str(spring), *LISTS, "--now", NOW)
    assert code == 64 and "--sender-user" in err, out + err
    code, out, err = run(project, "import", "email", str(spring), *LISTS, *SENDER, "--name", "../../x", "--now", NOW)
    assert code == 64 and "--name" in err, out + err

    elsewhere = project / "campaigns" / "newsletter" / "other.yaml"
    elsewhere.write_text(BRACES_FILE.replace("name: braces", "name: spring-sale"))
    code, out, err = run(project, "import", "email", str(spring), *LISTS, *SENDER, "--now", NOW)
    assert code == 1 and "'spring-sale' is already used by campaigns/newsletter/other.yaml" in err, out + err
    assert not (project / "campaigns" / "spring-sale.yaml").exists()
    elsewhere.unlink()

    existing = project / "campaigns" / "spring-sale.yaml"
    existing.write_text("# mine\n")
    code, out, err = run(project, "import", "email", str(spring), *LISTS, *SENDER, "--now", NOW)
    assert code == 1 and "campaigns/spring-sale.yaml exists already" in err, out + err
    assert existing.read_text() == "# mine\n"
    code, out, err = run(
        project, "import", "email", str(spring), *LISTS, *SENDER, "--name", "spring-adopted", "--now", NOW
    )
    assert code == 0 and "spring-adopted@2027-03-01T14:00:00Z recorded as scheduled" in out, out + err
    code, out, err = run(project, "import", "email", str(spring), *LISTS, *SENDER, "--name", "again", "--now", NOW)
    assert code == 1 and "already a send in the state" in err, out + err  # its email is imported already
    existing.unlink()
    (project / "campaigns" / "spring-adopted.yaml").unlink()
    (project / "campaigns" / "spring-adopted.html.j2").unlink()

    page = project / "campaigns" / "braces.html.j2"  # the HTML file too is never overwritten
    page.write_text("mine")
    code, out, err = run(project, "import", "email", str(email_id(applied, BRACES)), *LISTS, *SENDER, "--now", NOW)
    assert code == 1 and "campaigns/braces.html.j2 exists already" in err, out + err
    assert page.read_text() == "mine" and not (project / "campaigns" / "braces.yaml").exists()
    page.unlink()

    # a file that does not plan (an unknown sender) is removed again, and nothing is recorded
    braces = str(email_id(applied, BRACES))
    code, out, err = run(project, "import", "email", braces, *LISTS, "--sender-user", "nobody", "--now", NOW)
    assert code == 1 and "does not plan as a send" in err and "nobody" in err, out + err
    assert not list((project / "campaigns").glob("braces*"))

    # in the project that applied it, the email's name is already a key of the state
    code, out, err = run(applied, "import", "email", str(spring), *LISTS, *SENDER, "--now", NOW)
    assert code == 1 and "already a send in the state" in err, out + err
    assert not (project / "campaigns" / "spring-sale.yaml").exists()
    assert list((project / "campaigns").glob("*.yaml")) == []


def test_help() -> None:
    from click.testing import CliRunner

    from orchestrator.cli.main import cli

    result = CliRunner().invoke(cli, ["import", "email", "--help"])
    assert result.exit_code == 0 and "neither ever overwritten" in " ".join(result.output.split())


def test_under_version_5_the_email_is_read_through_v5(applied: Path, tmp_path: Path) -> None:
    """v5 reads give no scheduled time (write-only): the send key in the name gives it."""
    project = adopter(tmp_path / "adopter", applied)
    config = yaml.safe_load((project / "orchestrator.yaml").read_text())
    config["environments"]["sandbox"]["api"]["version"] = 5
    (project / "orchestrator.yaml").write_text(yaml.safe_dump(config))
    spring = email_id(applied, SPRING)
    code, out, err = run(project, "import", "email", str(spring), *LISTS, *SENDER, "--now", NOW)
    assert code == 0, out + err
    assert f"{SPRING} recorded as scheduled" in out, out
    code, out, err = run(project, "plan", "--detailed-exitcode", "--now", NOW)
    assert code == 0, out + err
    sent, adopted = payload(applied, SPRING), payload(project, SPRING)
    for part in ("subject", "text_content", "html_content"):
        assert adopted[part] == sent[part], part
    one_to_one = email_id(applied, "demo-followup/1234")
    code, out, err = run(project, "import", "email", str(one_to_one), *LISTS, *SENDER, "--now", NOW)
    assert code == 1 and "is a one-to-one email" in err, out + err
    code, out, err = run(project, "import", "email", "999999", *LISTS, *SENDER, "--now", NOW)
    assert code == 1 and "Pardot has no email 999999" in err, out + err


def test_an_email_made_outside_the_tool_gets_a_campaign_name_and_ids(tmp_path: Path) -> None:
    """A list email someone sent from Pardot itself: no send key in its name, ids not in the config."""
    from orchestrator.config import load_config
    from orchestrator.connect import build_client
    from orchestrator.pardot.models import ListEmailSend
    from tests.helpers import fixed_clock

    project = copy_example(tmp_path / "example")
    for path in sorted((project / "campaigns").rglob("*.yaml")):
        path.unlink()
    config = project / "orchestrator.yaml"
    config.write_text(config.read_text().replace("campaigns: {spring-2027: 1001}", "campaigns: {}"))
    env = load_config(project).environment("sandbox")
    with build_client(env, project, sandbox_clock=fixed_clock(NOW)) as client:
        sent = client.send_list_email(
            ListEmailSend(
                name="Spring Newsletter (March)!",
                campaign_id=1001,
                list_ids=(2001,),
                subject="Spring {{ news }}",
                text_content="Hi %%first_name%%, {% no jinja here %}\n%%unsubscribe%%\n",
                html_content="<p>Hi {{Recipient.FirstName}}</p><a href='%%unsubscribe%%'>u</a>",
                from_user_id=3001,
            )
        )
    code, out, err = run(
        project, "import", "email", str(sent.id), "--list", "2001", "--sender-user", "jane", "--now", NOW
    )
    assert code == 0, out + err
    written = yaml.safe_load((project / "campaigns" / "spring-newsletter-march.yaml").read_text())
    assert written["campaign"] == 1001 and written["lists"] == ["newsletter"] and written["schedule"] == {"now": True}
    assert "ids:\n  campaigns:\n    spring-2027: 1001\n" in out, out
    assert "spring-newsletter-march@now recorded as sent" in out, out
    assert run(project, "validate")[0] == 0
    code, out, err = run(project, "plan", "--detailed-exitcode", "--now", NOW)
    assert code == 0, out + err
    code, out, err = run(project, "plan", "--refresh", "--detailed-exitcode", "--now", "2026-11-27T12:10:00Z")
    assert code == 0 and "1 recorded list send(s) checked" in out, out + err  # found by its name in Pardot
    adopted = payload(project, "spring-newsletter-march@now")
    assert adopted["name"] == "Spring Newsletter (March)!"
    assert adopted["subject"] == "Spring {{ news }}" and "{% no jinja here %}" in str(adopted["text_content"])


def _on_version(project: Path, version: int) -> None:
    config = yaml.safe_load((project / "orchestrator.yaml").read_text())
    config["environments"]["sandbox"]["api"]["version"] = version
    (project / "orchestrator.yaml").write_text(yaml.safe_dump(config))


def _sandbox_gives_lists(project: Path, email: int) -> bool:
    """Whether the sandbox's v5 list-email read answers ``recipientLists`` (asked as Pardot's
    clients ask it). A read that does not give them is tested in test_adopting.py."""
    import httpx

    from orchestrator.config import load_config
    from orchestrator.connect import sandbox_app
    from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, inprocess_transport

    env = load_config(project).environment("sandbox")
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Pardot-Business-Unit-Id": SANDBOX_BUSINESS_UNIT}
    with httpx.Client(
        transport=inprocess_transport(sandbox_app(env, project)), base_url="http://sandbox.local", headers=headers
    ) as client:
        answer = client.get(
            f"/api/v5/objects/list-emails/{email}", params={"fields": "id,recipientLists,suppressionLists"}
        )
    return answer.status_code == 200 and isinstance(answer.json().get("recipientLists"), list)


def test_without_list_a_v4_import_asks_for_the_lists(applied: Path, tmp_path: Path) -> None:
    project = adopter(tmp_path / "adopter", applied)
    code, out, err = run(project, "import", "email", str(email_id(applied, SPRING)), *SENDER, "--now", NOW)
    assert code == 64, out + err
    assert "give the lists: --list REF, repeated (Pardot's v4 email read does not return them)" in err
    assert not (project / "campaigns" / "spring-sale.yaml").exists()


def test_without_list_a_v5_import_takes_pardots_lists_when_the_read_gives_them(applied: Path, tmp_path: Path) -> None:
    project = adopter(tmp_path / "adopter", applied)
    _on_version(project, 5)
    spring = email_id(applied, SPRING)
    assert _sandbox_gives_lists(project, spring)  # as Pardot's list-email v5 page lists the field
    code, out, err = run(project, "import", "email", str(spring), *SENDER, "--now", NOW)
    assert code == 0, out + err
    data = yaml.safe_load((project / "campaigns" / "spring-sale.yaml").read_text())
    assert data["lists"] == ["newsletter", "customers"] and data["suppression_lists"] == ["competitors"]
    code, out, err = run(project, "plan", "--detailed-exitcode", "--now", NOW)
    assert code == 0, out + err
