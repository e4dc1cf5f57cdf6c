"""Hostile campaign content (issue 10): secrets behind symbolic links, render budgets, control
characters on the terminal, and one opt-out rule shared by the policy and the sandbox.

The data-driven reproductions live in tests/cases/invalid/; these are the ones that need a
runtime setup (a link to /proc/self/environ, a FIFO, a short time budget) or an invariant.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.errors import RenderError
from orchestrator.policy import OK, opt_out_status
from orchestrator.render import RenderBudget, Renderer, Source
from orchestrator.sandbox import SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp, inprocess_transport
from tests.helpers import output as _run

CASES = Path(__file__).parent / "cases"
AUTH = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Pardot-Business-Unit-Id": SANDBOX_BUSINESS_UNIT}
NOW = "2027-01-01T00:00:00Z"
SECRET = "tok-3f9c2e71-must-never-be-printed"
CAMPAIGN = """name: a
campaign: spring-2027
lists: [newsletter]
sender: {name: Acme, email: news@example.com}
subject: Hello
text: 'Bye %%unsubscribe%%'
html: '<a href="%%unsubscribe%%">u</a>{% include "_partials/footer.txt" %}'
"""


def _project(tmp_path: Path, campaign: str = CAMPAIGN) -> Path:
    root = tmp_path / "project"
    (root / "campaigns" / "_partials").mkdir(parents=True)
    shutil.copy(CASES / "base.orchestrator.yaml", root / "orchestrator.yaml")
    (root / "campaigns" / "a.yaml").write_text(campaign)
    return root


def test_a_partial_linked_to_proc_environ_never_leaks_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10, high: the token reached the markdown plan (the PR comment) and the saved plan."""
    monkeypatch.setenv("PARDOT_TOKEN", SECRET)
    root = _project(tmp_path)
    os.symlink("/proc/self/environ", root / "campaigns" / "_partials" / "footer.txt")
    plan_file = tmp_path / "plan.json"
    for args in (
        ("validate", "--now", NOW),
        ("validate", "--format", "json", "--now", NOW),
        ("validate", "--format", "github", "--now", NOW),
        ("render", "a", "--now", NOW),
        ("plan", "--format", "markdown", "--now", NOW),
        ("plan", "--out", str(plan_file), "--now", NOW),
    ):
        code, output = _run(root, *args)
        assert code == 1, (args, output)
        assert SECRET not in output and "PARDOT_TOKEN" not in output, args
        assert "symbolic link to a file outside campaigns/" in output, (args, output)
    assert not plan_file.exists() or SECRET not in plan_file.read_text()


def test_a_fifo_partial_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    root = _project(tmp_path)
    os.mkfifo(root / "campaigns" / "_partials" / "footer.txt")
    code, output = _run(root, "validate", "--now", NOW)
    assert code == 1 and "campaigns/_partials/footer.txt is not a regular file" in output


def test_campaigns_dir_outside_the_project_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path)
    config = (root / "orchestrator.yaml").read_text().replace("campaigns_dir: campaigns", "campaigns_dir: /proc/self")
    (root / "orchestrator.yaml").write_text(config)
    code, output = _run(root, "validate", "--now", NOW)
    assert code == 1 and "outside the project folder" in output


def test_control_characters_in_messages_reach_the_terminal_escaped(tmp_path: Path) -> None:
    """A file name can carry an ANSI escape; every message quoting it shows it as ``\\x1b``."""
    root = _project(tmp_path, CAMPAIGN.replace("_partials/footer.txt", "_partials/\\x1b[2J\\x1b[1Afooter.txt"))
    os.symlink("/etc/hostname", root / "campaigns" / "_partials" / "\x1b[2J\x1b[1Afooter.txt")
    for args in (("validate", "--now", NOW), ("render", "a", "--now", NOW)):
        code, output = _run(root, *args)
        assert code == 1
        assert "\x1b" not in output and "\\x1b[2J\\x1b[1Afooter.txt" in output, output


# -- render budgets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inline",
    [
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
        # no call at all inside the loops: only the check at each loop step can stop this one
        "{% for i in xs %}{% for j in xs %}{% for k in xs %}{% endfor %}{% endfor %}{% endfor %}",
    ],
)
def test_time_budget_stops_nested_loops_without_output(tmp_path: Path, inline: str) -> None:
    """Two nested range(99999) loops hung validate; the deadline is checked at every loop step."""
    started = time.monotonic()
    with pytest.raises(RenderError, match=r"longer than 0.3 s"):
        Renderer(tmp_path).render(Source("html", inline=inline), {"xs": list(range(3000))}, RenderBudget(seconds=0.3))
    assert time.monotonic() - started < 5


def test_the_budget_is_shared_by_the_parts_of_one_send(tmp_path: Path) -> None:
    budget = RenderBudget(chars=100)
    renderer = Renderer(tmp_path)
    renderer.render(Source("text", inline="{{ 'x' * 60 }}"), {}, budget)
    with pytest.raises(RenderError, match="larger than 100 characters"):
        renderer.render(Source("html", inline="{{ 'x' * 60 }}"), {}, budget)


@pytest.mark.parametrize(
    "source",
    [
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
        "{% set l = [1] %}{% for i in range(64) %}{{ l.extend(l) }}{% endfor %}",
        "{{ 'x'.ljust(10**9) }}",
        "{{ 'x'.zfill(10**9) }}",
        "{{ ('a' * 100000).replace('a', 'b' * 100000) }}",
        "{{ ('a' * 1000000).join(['x'] * 1000) }}",
        "{{ '%999999999d' % 1 }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ 'x' | center(10**9) }}",
        "{{ 'x' | indent(10**9, true) }}",
        "{{ [0] * 10**9 }}",
        "{{ 9 ** 99999 }}",
        "{% set ns = namespace(n=7) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
        "{{ range(10**9) | list }}",
        "{% for n in [1] recursive %}{{ loop([1]) }}{% endfor %}",
    ],
)
def test_growth_is_refused_before_it_costs_memory_or_time(tmp_path: Path, source: str) -> None:
    started = time.monotonic()
    with pytest.raises(RenderError, match=r"budget|limit|too large|nested"):
        Renderer(tmp_path).render(Source("html", inline=source), {})
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{% for x in xs %}{{ loop.index }}/{{ loop.length }}{% if loop.last %}!{% endif %}{% endfor %}", "1/22/2!"),
        ("{% for x in [] %}x{% else %}empty{% endfor %}", "empty"),
        ("{% for k, v in d | dictsort %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;"),
        (
            "{% for n in tree recursive %}{{ n.name }}{% if n.kids %}({{ loop(n.kids) }}){% endif %}{% endfor %}",
            "a(bc)",
        ),
        (
            "{{ '-' * 5 }}{{ 2 ** 10 }}{{ 'x' | center(5) }}{{ '%03d' % 7 }}{{ '{:>4}'.format(1) }}",
            "-----1024  x  007   1",
        ),
        (
            "{{ ', '.join(['a', 'b']) }} {{ 'ab' ~ 'cd' }} {{ [1] + [2] }} {{ 7 // 2 }} {{ 7 / 2 }}",
            "a, b abcd [1, 2] 3 3.5",
        ),
    ],
)
def test_ordinary_templates_render_as_before(tmp_path: Path, source: str, expected: str) -> None:
    leaves = [{"name": "b", "kids": []}, {"name": "c", "kids": []}]
    variables = {"xs": [1, 2], "d": {"b": 2, "a": 1}, "tree": [{"name": "a", "kids": leaves}]}
    assert Renderer(tmp_path).render(Source("text", inline=source), variables) == expected


# -- one opt-out rule for the policy and the sandbox -------------------------------------------

_FRAGMENTS = [
    "%%unsubscribe%%",
    "%%email_preference_center%%",
    "{{Unsubscribe}}",
    "{{{ emailpreferencecenter }}}",
    '<a href="',
    "<a href=",
    '<area href="',
    '">x</a>',
    "<!-- ",
    " -->",
    "{{#if Recipient.X}}",
    "{{/if}}",
    "{{#unless Recipient.Y}}",
    "{{/unless}}",
    "<div hidden>",
    "</div>",
    "<template>",
    "<noscript>",
    " ",
    "text",
]


@settings(max_examples=60, deadline=None)
@given(
    parts=st.lists(st.sampled_from(_FRAGMENTS), max_size=8),
    is_html=st.booleans(),
    allow_hml=st.booleans(),
)
def test_the_sandbox_refuses_with_64_exactly_when_the_policy_refuses(
    parts: list[str], is_html: bool, allow_hml: bool
) -> None:
    body = "".join(parts) or "empty"
    other = '<a href="%%unsubscribe%%">u</a>' if not is_html else "%%unsubscribe%%"
    fields = {
        "campaign_id": "1001",
        "list_ids[]": "2001",
        "name": "k",
        "subject": "s",
        "from_email": "a@example.com",
        "from_name": "A",
        "text_content": other if is_html else body,
        "html_content": body if is_html else other,
        "format": "json",
    }
    app = SandboxApp(allow_hml_unsubscribe=allow_hml)
    with httpx.Client(
        transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL, headers=AUTH
    ) as client:
        answer = client.post("/api/email/version/4/do/send", data=fields).json()
    refused = answer.get("@attributes", {}).get("err_code") == 64
    policy_refuses = opt_out_status(body, is_html=is_html, allow_hml=allow_hml) != OK
    assert refused is policy_refuses, (body, answer)
