"""``orchestrator preview`` and ``plan --previews`` on the example project, with the real Chromium."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import yaml

from orchestrator.preview.browser import Screenshotter
from tests.helpers import NOW, applied_example, copy_example, run

SPRING = "spring-sale@2027-03-01T140000Z"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "example")


def test_spring_sale_screenshots_show_the_filled_sample_name(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "previews"
    code, stdout, stderr = run(project, "preview", "spring-sale", "--out", str(out), "--now", NOW)
    assert code == 0, stdout + stderr
    folder = out / SPRING
    assert sorted(p.name for p in folder.iterdir()) == ["desktop.png", "mobile.png", "preview.html", "text.txt"]
    desktop, mobile = png_size(folder / "desktop.png"), png_size(folder / "mobile.png")
    assert desktop[0] == 800 and mobile[0] == 375
    assert mobile[1] >= desktop[1]  # full page: the narrow layout is at least as tall
    assert "Hi Jamie," in (folder / "text.txt").read_text()
    with Screenshotter() as browser:  # what the screenshots were taken of, read back through the DOM
        for width in ("desktop.png", "mobile.png"):
            page = browser.page(width)
            page.set_content((folder / "preview.html").read_text(encoding="utf-8"))
            shown = page.inner_text("body")
            assert "Hi Jamie, everything is 20% off until March 8." in shown
            assert "%%" not in shown
            assert page.get_attribute("a >> text=Unsubscribe", "href") == "https://preview.invalid/unsubscribe"


def test_without_out_prints_the_text_part_and_the_folder(project: Path) -> None:
    code, stdout, stderr = run(project, "preview", "spring-sale", "--no-screenshots", "--now", NOW)
    assert code == 0, stdout + stderr
    assert "Subject: Spring sale: 20% off everything" in stdout
    assert "Hi Jamie,\n\nEverything is 20% off until March 8" in stdout
    folder = project / ".orchestrator" / "previews" / "spring-sale-1" / SPRING  # a new folder per run
    assert f"wrote preview.html, text.txt to {folder}" in stdout
    assert (folder / "preview.html").is_file()
    code, stdout, stderr = run(project, "preview", "spring-sale", "--no-screenshots", "--now", NOW)
    assert code == 0 and str(folder).replace("-1/", "-2/") in stdout, stdout + stderr


def test_a_named_sample_and_the_default_sample_from_the_project(project: Path, tmp_path: Path) -> None:
    config = yaml.safe_load((project / "orchestrator.yaml").read_text())
    config["samples"] = {
        "default": {"first_name": "Grace", "company": "Hopper & Co"},
        "vip": {"first_name": "Alan", "fields": {"tier": "gold"}},
    }
    (project / "orchestrator.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "p"
    run(project, "preview", "spring-sale", "--no-screenshots", "--out", str(out), "--now", NOW)
    assert "Hi Grace," in (out / SPRING / "text.txt").read_text()
    out = tmp_path / "p2"  # an output folder is new or empty
    run(project, "preview", "spring-sale", "--sample", "vip", "--no-screenshots", "--out", str(out), "--now", NOW)
    assert "Hi Alan," in (out / SPRING / "text.txt").read_text()
    code, _, stderr = run(project, "preview", "spring-sale", "--sample", "nobody", "--no-screenshots", "--now", NOW)
    assert code == 1
    assert "no sample recipient named 'nobody' (known: default, vip)" in stderr


def test_a_sandbox_prospect_fills_the_tags(project: Path, tmp_path: Path) -> None:
    for ident, name in (("1234", "Ada"), ("JANE.prospect@example.com", "Jane")):
        out = tmp_path / name  # an output folder is new or empty
        code, stdout, stderr = run(
            project, "preview", "weekly-newsletter", "--occurrence", "0", "--prospect", ident,
            "--no-screenshots", "--out", str(out), "--now", NOW,
        )
        assert code == 0, stdout + stderr
        html = next(out.glob("weekly-newsletter@*")).joinpath("preview.html").read_text()
        assert f"<p>Hello {name},</p>" in html  # {{#if Recipient.FirstName}}…{{/if}} took the first branch
    code, _, stderr = run(project, "preview", "spring-sale", "--prospect", "999999", "--no-screenshots", "--now", NOW)
    assert code == 1 and "the sandbox has no prospect '999999'" in stderr


def test_template_based_send_previews_the_template(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "p"
    code, stdout, stderr = run(project, "preview", "welcome-back", "--no-screenshots", "--out", str(out), "--now", NOW)
    assert code == 0, stdout + stderr
    folder = next(out.glob("welcome-back@*"))
    assert "Hello Jamie, welcome aboard." in (folder / "text.txt").read_text()
    assert 'href="https://preview.invalid/unsubscribe"' in (folder / "preview.html").read_text()


def test_without_chromium_the_error_says_how_and_html_and_text_are_written(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "p"
    code, _, stderr = run(
        project, "preview", "spring-sale", "--out", str(out), "--now", NOW,
        env={"ORCHESTRATOR_CHROMIUM": str(tmp_path / "no-chromium-here")},
    )
    assert code == 1
    assert "apt-get install chromium" in stderr and "Traceback" not in stderr
    assert sorted(p.name for p in (out / SPRING).iterdir()) == ["preview.html", "text.txt"]


def test_occurrence_and_at_pick_one_send(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "p"
    run(project, "preview", "weekly-newsletter", "--at", "2026-12-07T09:00:00", "--no-screenshots", "--out", str(out),
        "--now", NOW)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "weekly-newsletter@2026-12-07T080000Z"]
    code, _, stderr = run(project, "preview", "spring-sale", "--occurrence", "0", "--at", "2027-03-01T09:00:00")
    assert code != 0 and "not both" in stderr


def test_plan_payloads_are_byte_identical_with_and_without_previews(project: Path, tmp_path: Path) -> None:
    plain = run(project, "plan", "--format", "json", "--now", NOW)
    with_previews = run(project, "plan", "--format", "json", "--previews", str(tmp_path / "pv"), "--now", NOW)
    assert plain[0] == with_previews[0] == 0, plain[2] + with_previews[2]
    assert plain[1] == with_previews[1]  # the whole plan, payloads included, byte for byte
    assert "%%first_name%%" in plain[1] and "Jamie" not in plain[1]
    assert "Hi Jamie" in (tmp_path / "pv" / SPRING / "preview.html").read_text()


def test_plan_previews_only_the_sends_it_would_make(tmp_path: Path) -> None:
    project = applied_example(tmp_path / "applied")
    out = tmp_path / "pv"
    code, stdout, stderr = run(project, "plan", "--previews", str(out), "--now", NOW)
    assert code == 0, stdout + stderr
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "manifest.json"]  # everything is a no-op now
    assert "Wrote previews of 0 send(s)" in stderr
    spring = (project / "campaigns" / "spring-sale.yaml").read_text()
    (project / "campaigns" / "autumn-sale.yaml").write_text(
        spring.replace("name: spring-sale", "name: autumn-sale").replace("2027-03-01", "2027-09-01")
    )
    out = tmp_path / "pv2"  # an output folder is new or empty
    code, stdout, stderr = run(project, "plan", "--previews", str(out), "--now", NOW)
    assert code == 0, stdout + stderr
    assert sorted(p.name for p in out.iterdir()) == ["autumn-sale@2027-09-01T130000Z", "index.html", "manifest.json"]
    assert "autumn-sale@2027-09-01T13:00:00Z" in (out / "index.html").read_text()


def test_a_malformed_sample_is_a_located_config_error(project: Path) -> None:
    config = (project / "orchestrator.yaml").read_text()
    vip = next(line for line in config.splitlines() if line.startswith("  vip:"))
    (project / "orchestrator.yaml").write_text(config.replace(vip, "  vip: {first: Alan}"))
    code, stdout, stderr = run(project, "preview", "spring-sale", "--sample", "vip", "--no-screenshots", "--now", NOW)
    assert code == 1 and "Traceback" not in stdout + stderr
    assert "orchestrator.yaml:" in stdout + stderr and "first" in stdout + stderr


def test_each_one_to_one_send_previews_with_its_own_recipient(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "own"
    code, stdout, stderr = run(project, "preview", "demo-followup", "--no-screenshots", "--out", str(out), "--now", NOW)
    assert code == 0, stdout + stderr
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    ada = next(p for p in folders if "1234" in p.name)
    jane = next(p for p in folders if "1234" not in p.name)
    assert "Hi Ada," in (ada / "text.txt").read_text()  # not the built-in sample's "Jamie"
    assert "Hi Jane," in (jane / "text.txt").read_text()
    out = tmp_path / "ada"  # --prospect picks the send addressed to that prospect, with that prospect's data
    code, stdout, stderr = run(
        project, "preview", "demo-followup", "--prospect", "1234", "--no-screenshots", "--out", str(out), "--now", NOW
    )
    assert code == 0, stdout + stderr
    folders = [p for p in out.iterdir() if p.is_dir()]
    assert len(folders) == 1 and "1234" in folders[0].name and "Hi Ada," in (folders[0] / "text.txt").read_text()
    code, _, stderr = run(project, "preview", "demo-followup", "--prospect", "5007", "--no-screenshots", "--now", NOW)
    assert code == 1 and "'5007' is not a recipient of demo-followup" in stderr
