"""Previews make no request: not the screenshots, not ``preview.html`` opened from the artifact.

Every page of tests/preview/attacks/ aims at its own loopback server, which counts the
connections it accepts; the count must stay 0. The screenshots are taken by the real CLI
(``plan --previews``) with the real Chromium; ``preview.html`` is then opened the way a reviewer
opens a CI artifact: an ordinary Chromium, JavaScript on, no request interception.
"""

from __future__ import annotations

import struct
from pathlib import Path

import yaml

from orchestrator.preview.browser import DEFAULT_CHROMIUM, MAX_HEIGHT, Screenshotter
from orchestrator.preview.csp import POLICY
from tests.helpers import NOW, copy_example, run
from tests.preview.counting_server import CountingServer, counting_servers

ATTACKS = Path(__file__).resolve().parent / "attacks"
CASES = sorted(p.stem for p in ATTACKS.glob("*.html"))
FOOTER = '\n<p><a href="%%unsubscribe%%">Unsubscribe</a></p>\n'


def _write_bytes(target: Path, data: bytes) -> None:
    """The screenshotter's writer in these tests (the CLI's writes through its output folder)."""
    target.write_bytes(data)


def attack_html(case: str, server: CountingServer) -> str:
    """The case's page aimed at ``server`` (only loopback spellings of it)."""
    return (
        (ATTACKS / f"{case}.html")
        .read_text(encoding="utf-8")
        .replace("@T@", f"http://127.0.0.1:{server.port}")
        .replace("@LOCAL@", f"http://localhost:{server.port}")
        .replace("@NUM@", f"http://2130706433:{server.port}")
    )


def attack_project(root: Path, servers: dict[str, CountingServer]) -> Path:
    """The example project with one campaign per attack page instead of its own campaigns."""
    project = copy_example(root)
    for old in [*project.glob("campaigns/*.yaml"), *project.glob("campaigns/*/*.yaml")]:
        old.unlink()
    for case, server in servers.items():
        campaign = {
            "name": case,
            "campaign": "spring-2027",
            "lists": ["newsletter"],
            "sender": {"name": "Acme", "email": "news@example.com"},
            "subject": f"Attack {case}",
            "text": "Hello\n%%unsubscribe%%\n",
            "html": attack_html(case, server) + FOOTER,
            "schedule": {"now": True},
        }
        (project / "campaigns" / f"{case}.yaml").write_text(yaml.safe_dump(campaign, sort_keys=False))
    return project


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_attack_set_has_cases() -> None:
    assert len(CASES) >= 12


def test_screenshots_of_every_attack_page_make_no_request(tmp_path: Path) -> None:
    with counting_servers(len(CASES)) as listening:
        servers = dict(zip(CASES, listening, strict=True))
        project = attack_project(tmp_path / "project", servers)
        out = tmp_path / "previews"
        code, stdout, stderr = run(project, "plan", "--previews", str(out), "--now", NOW)
        assert code == 0, stdout + stderr
        assert {case: server.hits() for case, server in servers.items()} == dict.fromkeys(CASES, 0)
    for case in CASES:
        folder = next(out.glob(f"{case}*"))
        assert sorted(p.name for p in folder.iterdir()) == ["desktop.png", "mobile.png", "preview.html", "text.txt"]
        assert png_size((folder / "desktop.png").read_bytes())[0] == 800


def test_preview_html_opened_in_a_plain_browser_makes_no_request(tmp_path: Path) -> None:
    """What a reviewer does with the artifact: open it, scripts allowed, nothing intercepted."""
    from playwright.sync_api import sync_playwright

    with counting_servers(len(CASES)) as listening:
        servers = dict(zip(CASES, listening, strict=True))
        project = attack_project(tmp_path / "project", servers)
        out = tmp_path / "previews"
        for case in CASES:  # an output folder is new or empty: one per case
            code, stdout, stderr = run(
                project, "preview", case, "--no-screenshots", "--out", str(out / case), "--now", NOW
            )
            assert code == 0, stdout + stderr
        pages = {case: next((out / case).glob(f"{case}*")) / "preview.html" for case in CASES}
        for page_file in pages.values():
            text = page_file.read_text(encoding="utf-8")
            assert text.index(f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">') < text.index("Hello")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=DEFAULT_CHROMIUM, args=["--disable-dev-shm-usage", "--disable-gpu"]
            )
            try:
                for page_file in pages.values():
                    page = browser.new_page()
                    page.goto(page_file.as_uri(), wait_until="load")
                    page.wait_for_load_state("networkidle")
                    page.close()
            finally:
                browser.close()
        assert {case: server.hits() for case, server in servers.items()} == dict.fromkeys(CASES, 0)


def test_a_heavy_page_times_out_alone_and_the_others_keep_their_screenshots(tmp_path: Path) -> None:
    layer = (
        '<div style="position: absolute; left: 0; top: 0; width: 800px; height: 3000px; opacity: 0.9; '
        "filter: blur(60px) drop-shadow(0 0 90px red) blur(40px); box-shadow: 0 0 200px 100px blue; "
        'background: radial-gradient(red, blue)"></div>'
    )
    heavy = f'<div style="position: relative; height: 3000px">{layer * 40}</div>'  # minutes of painting (5: 35 s)
    sends = {"before": "<p>First email</p>", "heavy": heavy, "after": "<p>Third email</p>"}
    with Screenshotter(page_timeout_s=3) as browser:
        for name, html in sends.items():
            folder = tmp_path / name
            folder.mkdir()
            written = browser.shoot(html, folder, write=_write_bytes)
            assert [p.name for p in written] == ["desktop.png", "mobile.png"]
            shown = browser.page("mobile.png").inner_text("body")
            if name == "heavy":
                assert "No screenshot" in shown and "took more than 3 s to render" in shown
            else:
                assert shown == sends[name].removeprefix("<p>").removesuffix("</p>")
    assert png_size((tmp_path / "after" / "desktop.png").read_bytes()) == (800, 600)


def test_a_very_tall_page_is_cut_with_a_banner_saying_so(tmp_path: Path) -> None:
    from PIL import Image

    with Screenshotter() as browser:
        browser.shoot('<div style="height: 300000px; background: #fff">tall</div>', tmp_path, write=_write_bytes)
    for name, width in (("desktop.png", 800), ("mobile.png", 375)):
        with Image.open(tmp_path / name) as image:
            assert image.size == (width, MAX_HEIGHT)
            banner = image.convert("RGB").getpixel((2, MAX_HEIGHT - 18))
            assert banner == (0xB0, 0x00, 0x20), name  # the red strip that says the page was cut

