"""``orchestrator import templates`` through the real CLI against the in-process sandbox (v5).

Templates are put into the sandbox the way someone in Pardot makes them (a v5 create as Pardot
itself), one of them holding the recorded real template body (tests/pardot/bodies/real); the
project imports them, validates, and plans with nothing to do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as ET
import yaml

from orchestrator.config import load_config
from orchestrator.templates_owned import owned_templates
from tests.helpers import NOW, as_pardot, copy_example
from tests.helpers import run_at_now as run

REAL = Path(__file__).parent.parent / "pardot" / "bodies" / "real" / "crim_email_template_read.xml"
SENDER = [{"type": "general_user", "name": "Jane Doe", "address": "jane@example.com"}]
SENDER_OPTIONS = ("--sender-name", "Acme News", "--sender-email", "news@example.com")

#: Content rich in what Jinja reads as its own, HML and PML tags, and carriage returns.
BRACES: dict[str, Any] = {
    "name": "braces",
    "subject": "{{Recipient.FirstName}}, {% off {# {{ price }}",
    "textMessage": "Hi {{Recipient.FirstName}} %%first_name%%,\r\n{{ price }} {x} {#c#}\n%%unsubscribe%%\n",
    "htmlMessage": "<p>Hi {{{Recipient.Street}}}\r\n{% raw %}{{</p>  \n<a href='%%unsubscribe%%'>u</a>{% endraw %}",
    "senderOptions": SENDER,
    "isListEmail": True,
}


def _project(tmp_path: Path, *, version: int = 5) -> Path:
    """The example project on ``version``, without campaigns (a plan has nothing else to do)."""
    project = copy_example(tmp_path / "p")
    config = yaml.safe_load((project / "orchestrator.yaml").read_text(encoding="utf-8"))
    config["environments"]["sandbox"]["api"]["version"] = version
    (project / "orchestrator.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    for path in sorted((project / "campaigns").rglob("*.yaml")):
        path.unlink()
    return project


def _make(project: Path, body: dict[str, Any]) -> int:
    answer = as_pardot(project, "POST", "/api/v5/objects/email-templates", params={"fields": "id"}, json=body)
    assert answer.status_code in (200, 201), answer.text
    return int(answer.json()["id"])


def _held(project: Path, template_id: int) -> dict[str, Any]:
    fields = "id,name,subject,textMessage,htmlMessage"
    answer = as_pardot(project, "GET", f"/api/v5/objects/email-templates/{template_id}", params={"fields": fields})
    assert answer.status_code == 200, answer.text
    held: dict[str, Any] = answer.json()
    return held


def _real_body() -> dict[str, Any]:
    """The recorded real template read (Crim's fixture), as a v5 create body."""
    template = ET.parse(REAL).getroot().find("emailTemplate")
    assert template is not None

    def text(tag: str) -> str:
        value = template.findtext(tag)
        assert isinstance(value, str) and value, tag
        return value

    flags = ("isListEmail", "isOneToOneEmail", "isAutoResponderEmail", "isDripEmail")
    return {
        "name": text("name"),
        "subject": text("subject"),
        "htmlMessage": text("htmlMessage"),
        "textMessage": text("textMessage"),
        "senderOptions": SENDER,
        **{flag: template.findtext(flag) == "1" for flag in flags},
    }


def _rendered(project: Path) -> dict[str, dict[str, str | None]]:
    """Each template file of the project rendered by the project's own renderer (as plan does)."""
    config = load_config(project)
    owned, problems = owned_templates(config, config.environment("sandbox"))
    assert not problems, problems
    return {t.name: {"subject": t.subject, "textMessage": t.text, "htmlMessage": t.html} for t in owned}


def test_imported_templates_render_byte_for_byte_as_pardot_holds_them(tmp_path: Path) -> None:
    project = _project(tmp_path)
    braces, real = _make(project, BRACES), _make(project, _real_body())
    code, out, err = run(project, "import", "templates", str(braces), str(real), "--now", NOW)
    assert code == 0, out + err
    assert f"templates/braces.yaml: written from template {braces}; recorded as owned" in out
    assert "templates/test-email-template.yaml: written" in out
    assert "Pardot names it 'Test Email Template'" in out
    assert "No ids: block to paste" in out

    folder = project / "templates"
    text = (folder / "braces.txt.j2").read_text(encoding="utf-8")
    assert "Hi {{Recipient.FirstName}} %%first_name%%,{{ '\\r' }}\n{{ '{{' }} price }}" in text
    assert "{{ '{#' }}c#}" in text
    assert "{{ '{%' }} raw %}" in (folder / "braces.html.j2").read_text(encoding="utf-8")
    data = yaml.safe_load((folder / "braces.yaml").read_text(encoding="utf-8"))
    assert data["text_file"] == "braces.txt.j2" and data["html_file"] == "braces.html.j2"
    assert data["sender"] == {"name": "Jane Doe", "email": "jane@example.com"}
    assert data["flags"]["isListEmail"] is True

    code, out, err = run(project, "validate")
    assert code == 0, out + err
    rendered = _rendered(project)
    for name, template_id in (("braces", braces), ("test-email-template", real)):
        held = _held(project, template_id)
        for part in ("subject", "textMessage", "htmlMessage"):
            assert rendered[name][part] == held[part], (name, part)
    assert "\r\n" in str(rendered["braces"]["textMessage"]) and "%%unsubscribe%%" in str(
        rendered["test-email-template"]["htmlMessage"]
    )

    code, out, err = run(project, "plan", "--detailed-exitcode", "--now", NOW)
    assert code == 0, out + err  # recorded as owned: unchanged, not `+ create`
    assert "create template" not in out


def test_an_imported_template_is_owned_an_edit_is_an_update_and_a_change_in_pardot_is_drift(tmp_path: Path) -> None:
    project = _project(tmp_path)
    braces = _make(project, BRACES)
    assert run(project, "import", "templates", str(braces), "--now", NOW)[0] == 0
    with (project / "templates" / "braces.txt.j2").open("a", encoding="utf-8") as handle:
        handle.write("P.S. new line\n")
    code, out, _ = run(project, "plan", "--detailed-exitcode", "--now", NOW)
    assert code == 2, out
    assert f"~ update template braces ({braces})" in out and "+P.S. new line" in out

    changed = as_pardot(project, "PATCH", f"/api/v5/objects/email-templates/{braces}", json={"subject": "By hand"})
    assert changed.status_code == 200, changed.text
    code, out, _ = run(project, "plan", "--detailed-exitcode", "--now", NOW)
    assert code == 3, out
    assert f"! drifted template braces ({braces})" in out


def test_all_imports_every_template_and_skips_what_is_owned(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _make(project, BRACES)
    code, out, err = run(project, "import", "templates", "--all", *SENDER_OPTIONS, "--now", NOW)
    assert code == 0, out + err
    names = sorted(path.name for path in (project / "templates").glob("*.yaml"))
    assert names == ["braces.yaml", "follow-up.yaml", "welcome.yaml"]  # 4003 is archived: not listed
    # the seed's senders are users (no address): the file has the one given on the command line
    welcome = yaml.safe_load((project / "templates" / "welcome.yaml").read_text(encoding="utf-8"))
    assert welcome["sender"] == {"name": "Acme News", "email": "news@example.com"}
    assert "its sender in the file is Acme News <news@example.com>" in out
    assert run(project, "validate")[0] == 0

    code, out, err = run(project, "import", "templates", "--all", "--now", NOW)
    assert code == 0, out + err
    assert "template 4001: owned already as welcome; skipped" in out
    assert "Nothing to import" in out

    code, out, err = run(project, "import", "templates", "4001", "--now", NOW)
    assert code == 1
    assert "template 4001 is owned already: the state records it as 'welcome'" in err


def test_an_existing_file_is_never_overwritten_and_the_others_are_imported(tmp_path: Path) -> None:
    project = _project(tmp_path)
    braces = _make(project, BRACES)
    (project / "templates").mkdir()
    mine = project / "templates" / "braces.html.j2"
    mine.write_text("mine", encoding="utf-8")
    code, out, err = run(project, "import", "templates", str(braces), "4001", *SENDER_OPTIONS, "--now", NOW)
    assert code == 1, out + err
    assert "templates/braces.html.j2 exists already: import never overwrites a file" in err
    assert "1 of 2 template(s) not imported" in err
    assert mine.read_text(encoding="utf-8") == "mine"
    assert not (project / "templates" / "braces.yaml").exists()
    assert not (project / "templates" / "braces.txt.j2").exists()
    assert (project / "templates" / "welcome.yaml").exists()  # the other one is imported
    assert _journal_keys(project) == ["template:welcome"]  # nothing recorded for braces


def test_a_template_without_an_unsubscribe_link_is_written_as_pardot_holds_it_and_validate_says_so(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    bare = _make(project, {**BRACES, "name": "bare", "textMessage": "No link here.\n", "htmlMessage": "<p>none</p>"})
    code, out, err = run(project, "import", "templates", str(bare), "--now", NOW)
    assert code == 0, out + err
    assert "validate reports: templates/bare.yaml" in out and "unsubscribe" in out
    assert "for a missing link, add one" in out
    assert (project / "templates" / "bare.txt.j2").read_text(encoding="utf-8") == "No link here.\n"
    code, out, err = run(project, "validate")
    assert code == 1
    assert "templates/bare.yaml" in out + err


def test_a_sender_pardot_does_not_give_as_an_address_needs_the_command_line(tmp_path: Path) -> None:
    project = _project(tmp_path)
    code, _, err = run(project, "import", "templates", "4001", "--now", NOW)
    assert code == 1
    assert "template 4001 ('welcome'): Pardot does not give its sender as a name and an address" in err
    assert "--sender-name NAME --sender-email EMAIL" in err
    assert not (project / "templates").exists()


def test_refusals_before_anything_is_read(tmp_path: Path) -> None:
    project = _project(tmp_path, version=4)
    code, _, err = run(project, "import", "templates", "4001", "--now", NOW)
    assert code == 1
    assert "importing templates needs `version: 5`" in err and "version: 5" in err
    assert run(project, "import", "templates", "--now", NOW)[0] == 64
    assert run(project, "import", "templates", "4001", "--all", "--now", NOW)[0] == 64
    assert run(project, "import", "templates", "4001", "--sender-name", "X", "--now", NOW)[0] == 64


def test_a_template_pardot_does_not_hold_is_named(tmp_path: Path) -> None:
    project = _project(tmp_path)
    code, _, err = run(project, "import", "templates", "999999", "--now", NOW)
    assert code == 1
    assert "Pardot has no email template 999999" in err
    assert not (project / "templates").exists()  # not even an empty folder, which would change every plan


def _journal_keys(project: Path) -> list[str]:
    code, out, err = run(project, "state", "journal", "--json")
    assert code == 0, out + err
    return [str(entry["key"]) for entry in json.loads(out)["entries"]]


def test_the_state_journal_names_the_template(tmp_path: Path) -> None:
    project = _project(tmp_path)
    braces = _make(project, BRACES)
    assert run(project, "import", "templates", str(braces), "--now", NOW)[0] == 0
    assert _journal_keys(project) == ["template:braces"]


def test_a_template_the_environment_names_keeps_that_name(tmp_path: Path) -> None:
    """A campaign may already name the template through ``ids.templates``: the file takes that name."""
    project = _project(tmp_path)
    config = project / "orchestrator.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("welcome: 4001", "hello: 4001"), encoding="utf-8")
    code, out, err = run(project, "import", "templates", "4001", *SENDER_OPTIONS, "--now", NOW)
    assert code == 0, out + err
    assert "templates/hello.yaml: written from template 4001" in out
    assert "Pardot names it 'welcome': the next apply that updates it renames it to 'hello'" in out
    assert yaml.safe_load((project / "templates" / "hello.yaml").read_text(encoding="utf-8"))["name"] == "hello"


def test_a_file_that_would_not_load_is_removed_again_and_nothing_is_recorded(tmp_path: Path) -> None:
    project = _project(tmp_path)
    odd = [{"type": "general_user", "name": "Jane Doe", "address": "not-an-address"}]
    template_id = _make(project, {**BRACES, "name": "odd", "senderOptions": odd})
    code, out, err = run(project, "import", "templates", str(template_id), "--now", NOW)
    assert code == 1, out + err
    assert "templates/odd.yaml as written does not load" in err and "not a valid email address" in err
    assert not (project / "templates").exists()
    assert _journal_keys(project) == []
