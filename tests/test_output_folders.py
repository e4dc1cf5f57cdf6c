"""Output folders belong to the tool (issue 17): a pull request cannot plant files or links in them.

Every command that writes a folder (``plan --out-dir``, ``plan --previews``, ``show --previews``,
``render --out``, ``preview --out`` and its default folder) is driven through the real CLI on
the example project, against a folder a hostile checkout prepared: files already there, a
symbolic link as the folder, a link as a folder on the way. The tool refuses with a located
error, writes nothing outside, deletes nothing, and lists what it wrote in ``manifest.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.outdir import MANIFEST, claim
from tests.helpers import NOW, copy_example, run

#: Each command that writes a folder, given the project and the folder.
Command = Callable[[Path, Path], tuple[int, str, str]]


def plan_comment(project: Path, folder: Path) -> tuple[int, str, str]:
    return run(project, "plan", "--format", "markdown", "--out-dir", str(folder), "--now", NOW)


def plan_previews(project: Path, folder: Path) -> tuple[int, str, str]:
    return run(project, "plan", "--previews", str(folder), "--now", NOW, env={"ORCHESTRATOR_CHROMIUM": "/nowhere"})


def show_previews(project: Path, folder: Path) -> tuple[int, str, str]:
    saved = project.parent / "saved-plan.json"
    if not saved.exists():
        code, out, err = run(project, "plan", "--out", str(saved), "--now", NOW)
        assert code == 0, out + err
    return run(project, "show", str(saved), "--previews", str(folder), env={"ORCHESTRATOR_CHROMIUM": "/nowhere"})


def render_out(project: Path, folder: Path) -> tuple[int, str, str]:
    return run(project, "render", "spring-sale", "--out", str(folder), "--now", NOW)


def preview_out(project: Path, folder: Path) -> tuple[int, str, str]:
    return run(project, "preview", "spring-sale", "--no-screenshots", "--out", str(folder), "--now", NOW)


COMMANDS: dict[str, tuple[Command, str]] = {
    "plan --out-dir": (plan_comment, "--out-dir"),
    "plan --previews": (plan_previews, "--previews"),
    "show --previews": (show_previews, "--previews"),
    "render --out": (render_out, "--out"),
    "preview --out": (preview_out, "--out"),
}
commands = pytest.mark.parametrize("command", list(COMMANDS))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "checkout")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the checkout, with a file of someone's that must survive."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "plan-7.md").write_text("someone else's file")
    return folder


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(result: tuple[int, str, str], option: str, folder: Path, why: str) -> None:
    code, stdout, stderr = result
    assert code == 1, stdout + stderr
    assert "Traceback" not in stdout + stderr
    message = " ".join(stderr.split())
    assert f"{option} {folder}" in message and why in message, stderr
    assert "choose another folder" in message, stderr


@commands
def test_a_folder_holding_files_is_refused_and_left_as_it_was(project: Path, command: str) -> None:
    """The reproduction: a committed ``plan-comment/plan-0.md`` was posted as the bot's first comment."""
    write, option = COMMANDS[command]
    folder = project / "plan-comment"
    folder.mkdir()
    planted = "Plan: nothing to do. cc @octocat"
    (folder / "plan-0.md").write_text(planted)
    refused(write(project, folder), option, folder, "already holds plan-0.md, which this run did not write")
    assert tree(folder) == {"plan-0.md": planted}  # nothing added (no manifest), nothing removed


@commands
def test_a_symlink_as_the_folder_is_refused_and_nothing_is_written_or_deleted_outside(
    project: Path, outside: Path, command: str
) -> None:
    """A committed symlink named like the output folder made the tool write (and clean up) outside."""
    write, option = COMMANDS[command]
    link = project / "previews"
    link.symlink_to(outside, target_is_directory=True)
    refused(write(project, link), option, link, f"{link} is a symbolic link")
    assert tree(outside) == {"plan-7.md": "someone else's file"}


@commands
def test_a_symlink_on_the_way_inside_the_project_is_refused(project: Path, outside: Path, command: str) -> None:
    write, option = COMMANDS[command]
    link = project / "build"
    link.symlink_to(outside, target_is_directory=True)
    folder = link / "out"
    refused(write(project, folder), option, folder, f"{link} is a symbolic link")
    assert not (outside / "out").exists()


def test_a_symlink_as_the_last_component_is_refused_outside_the_project_too(project: Path, outside: Path) -> None:
    empty = outside.parent / "empty"
    empty.mkdir()
    link = outside.parent / "alias"
    link.symlink_to(empty, target_is_directory=True)
    refused(plan_comment(project, link), "--out-dir", link, "is a symbolic link")
    assert list(empty.iterdir()) == []


def test_links_above_the_project_are_the_users_own_and_are_followed(project: Path, tmp_path: Path) -> None:
    """``/tmp`` is a link on some systems: only the project's (and checkout's) own links are refused."""
    real = tmp_path / "real-home"
    real.mkdir()
    (tmp_path / "home").symlink_to(real, target_is_directory=True)
    folder = tmp_path / "home" / "comments" / "pr-1"
    code, stdout, stderr = plan_comment(project, folder)
    assert code == 0, stdout + stderr
    assert sorted(p.name for p in (real / "comments" / "pr-1").iterdir()) == [MANIFEST, "plan-1.md"]


def test_the_checkout_is_guarded_too_when_the_project_is_a_subfolder_of_it(tmp_path: Path, outside: Path) -> None:
    """In GitHub Actions the whole checkout ($GITHUB_WORKSPACE) comes from the pull request."""
    checkout = tmp_path / "repo"
    project = copy_example(checkout / "marketing")
    (checkout / "out").symlink_to(outside, target_is_directory=True)
    folder = checkout / "out" / "plan-comment"
    code, stdout, stderr = run(
        project, "plan", "--format", "markdown", "--out-dir", str(folder), "--now", NOW,
        env={"GITHUB_WORKSPACE": str(checkout)},
    )
    refused((code, stdout, stderr), "--out-dir", folder, f"{checkout / 'out'} is a symbolic link")
    assert tree(outside) == {"plan-7.md": "someone else's file"}


def test_a_file_where_the_folder_should_be_is_refused(project: Path) -> None:
    (project / "plan-comment").write_text("not a folder")
    folder = project / "plan-comment" / "part"
    refused(plan_comment(project, folder), "--out-dir", folder, f"{project / 'plan-comment'} is a file, not a folder")


@commands
def test_a_new_folder_gets_exactly_the_files_written_and_a_manifest_of_them(
    project: Path, tmp_path: Path, command: str
) -> None:
    write, _ = COMMANDS[command]
    folder = tmp_path / "new" / "out"
    code, stdout, stderr = write(project, folder)
    assert code in (0, 1) and "Traceback" not in stdout + stderr  # previews without Chromium exit 1
    assert code == 0 or "no screenshots" in stderr, stdout + stderr
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["written_by"] == "orchestrator" and manifest["version"] == 1
    on_disk = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
    assert {entry["path"] for entry in manifest["files"]} == on_disk and on_disk
    for entry in manifest["files"]:
        data = (folder / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
    # A second run finds the folder holding files (the first run's): refused, not mixed or cleaned.
    before = tree(folder)
    assert write(project, folder)[0] == 1
    assert tree(folder) == before


def test_an_existing_empty_real_folder_is_used(project: Path) -> None:
    folder = project / "plan-comment"
    folder.mkdir()
    code, stdout, stderr = plan_comment(project, folder)
    assert code == 0, stdout + stderr
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST, "plan-1.md"]


def test_the_default_preview_folder_is_new_every_run_and_never_through_a_link(
    project: Path, outside: Path
) -> None:
    def preview() -> tuple[int, str, str]:
        return run(project, "preview", "spring-sale", "--no-screenshots", "--now", NOW)

    for number in (1, 2):
        code, stdout, stderr = preview()
        assert code == 0, stdout + stderr
        folder = project / ".orchestrator" / "previews" / f"spring-sale-{number}"
        assert (folder / MANIFEST).is_file() and f"to {folder}/" in stdout
    linked = copy_example(outside.parent / "linked")
    (linked / ".orchestrator").mkdir()
    (linked / ".orchestrator" / "previews").symlink_to(outside, target_is_directory=True)
    code, stdout, stderr = run(linked, "preview", "spring-sale", "--no-screenshots", "--now", NOW)
    refused((code, stdout, stderr), "preview", linked / ".orchestrator" / "previews", "is a symbolic link")
    assert tree(outside) == {"plan-7.md": "someone else's file"}


def test_plan_refuses_a_bad_folder_before_planning(project: Path) -> None:
    """The folders are claimed first: a refusal costs no API call and writes no saved plan."""
    folder = project / "plan-comment"
    folder.mkdir()
    (folder / "plan-0.md").write_text("planted")
    saved = project / "plan.json"
    code, _, stderr = run(
        project, "plan", "--out", str(saved), "--format", "markdown", "--out-dir", str(folder), "--now", NOW
    )
    assert code == 1 and "already holds plan-0.md" in stderr
    assert not saved.exists()


def test_one_folder_cannot_be_both_the_comment_and_the_previews(project: Path, tmp_path: Path) -> None:
    folder = tmp_path / "both"
    code, _, stderr = run(
        project, "plan", "--format", "markdown", "--out-dir", str(folder), "--previews", str(folder), "--now", NOW
    )
    assert code == 64 and "two different folders" in stderr and not folder.exists()


# --- the folder itself -------------------------------------------------------------------------


def test_files_are_created_never_replaced_and_names_that_read_alike_get_their_own_folder(tmp_path: Path) -> None:
    with claim(tmp_path / "out", option="--out") as out:
        first, second = out.subfolder("a_b"), out.subfolder("a_b")
        assert (first, second) == ("a_b", "a_b-2")
        out.write_text(f"{first}/x.txt", "one")
        with pytest.raises(Exception, match="appeared in the folder while this run was writing"):
            out.write_text(f"{first}/x.txt", "two")
        with pytest.raises(ValueError):
            out.write_text("../escape.txt", "no")
        out.finish()
    assert (tmp_path / "out" / "a_b" / "x.txt").read_text() == "one"
    assert not (tmp_path / "escape.txt").exists()
    listed = json.loads((tmp_path / "out" / MANIFEST).read_text())["files"]
    assert [entry["path"] for entry in listed] == ["a_b/x.txt"]


def test_a_link_planted_after_the_claim_is_not_followed(tmp_path: Path, outside: Path) -> None:
    """Files are opened with O_NOFOLLOW relative to the folder's descriptor."""
    with claim(tmp_path / "out", option="--out") as out:
        os.symlink(outside / "plan-7.md", tmp_path / "out" / "plan-1.md")
        with pytest.raises(Exception, match="appeared in the folder"):
            out.write_text("plan-1.md", "ours")
    assert (outside / "plan-7.md").read_text() == "someone else's file"
