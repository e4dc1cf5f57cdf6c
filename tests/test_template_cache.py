"""Compiled templates are code: none a checkout can hold is ever loaded (issue 17).

Jinja's ``FileSystemBytecodeCache`` unpickles the checksum at the head of every cache file it
opens, before comparing it. Until issue 17 the cache lived in the project, at a predictable
name (``.orchestrator/jinja-cache/<version>-budget1/{text,html}/__jinja2_<sha1>.cache``), so a
file committed there (``git add -f``) ran its author's code during ``validate`` with the CI's
secrets in the environment. These tests plant such files, with a payload that creates a marker
folder when unpickled, and run the real CLI over the project.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
from collections.abc import Iterator
from pathlib import Path

import jinja2
import pytest
import yaml
from jinja2.bccache import bc_magic

from orchestrator import __version__
from orchestrator.render import Renderer, Source, template_cache_root
from orchestrator.usercache import private_folder
from tests.helpers import copy_example, output

REPO = Path(__file__).resolve().parents[1]
NOW = "2027-01-01T00:00:00Z"
#: The per-release folder name the code before issue 17 used (``_CODEGEN`` was "budget1").
OLD_RELEASE_FOLDER = f"{__version__}-budget1"


class _Payload:
    """Unpickling this creates ``marker``: proof that a planted file was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


def _example_project(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "project")


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _old_cache_names(root: Path) -> set[str]:
    """Every file name the old code gave a template of this project, computed as it did.

    Inline sources (any string of a campaign file) were named ``inline:<sha256 of the source>``
    with no file name; template files by their path relative to the campaigns folder, with the
    resolved path as the file name. Jinja names the cache file ``__jinja2_<sha1 key>.cache``.
    """
    campaigns = (root / "campaigns").resolve()
    cache = jinja2.FileSystemBytecodeCache(str(root))
    names = set()
    for path in campaigns.rglob("*"):
        if path.suffix == ".yaml":
            for text in _strings(yaml.safe_load(path.read_text(encoding="utf-8"))):
                name = "inline:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
                names.add(cache.get_cache_key(name))
        elif path.is_file():
            relative = path.relative_to(campaigns).as_posix()
            names.add(cache.get_cache_key(relative, str(campaigns / relative)))
    return {f"__jinja2_{key}.cache" for key in names}


def _plant(folder: Path, names: set[str], marker: Path) -> int:
    """A valid-header cache file under every name, in the text and the HTML folder."""
    body = bc_magic + pickle.dumps(_Payload(marker), protocol=2)
    for flavour in ("text", "html"):
        (folder / flavour).mkdir(parents=True, exist_ok=True)
        for name in names:
            (folder / flavour / name).write_bytes(body)
    return 2 * len(names)


def _run(root: Path, *args: str) -> tuple[int, str]:
    return output(root, *args, "--now", NOW)


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def test_planting_works_against_jinjas_own_cache(tmp_path: Path) -> None:
    """The planted file is what Jinja's cache loads under that name (so the tests below mean something)."""
    (tmp_path / "campaigns").mkdir(parents=True)
    marker = tmp_path / "marker"
    source = "{{ x }}"
    name = "__jinja2_" + jinja2.FileSystemBytecodeCache(".").get_cache_key(
        "inline:" + hashlib.sha256(source.encode()).hexdigest()
    ) + ".cache"
    _plant(tmp_path / "cache", {name}, marker)
    bucket = jinja2.bccache.Bucket(jinja2.Environment(), "k", "checksum")
    with (tmp_path / "cache" / "text" / name).open("rb") as fh:
        bucket.load_bytecode(fh)
    assert marker.is_dir()


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_committed_cache_file_is_never_loaded(tmp_path: Path, command: str) -> None:
    root = _example_project(tmp_path)
    marker = tmp_path / "pwned"
    planted = _plant(root / ".orchestrator" / "jinja-cache" / OLD_RELEASE_FOLDER, _old_cache_names(root), marker)
    assert planted > 10
    code, output = _run(root, command)
    assert not marker.exists(), f"`{command}` unpickled a cache file from the checkout"
    assert code == 0, output


def test_a_symlinked_cache_folder_in_the_project_is_neither_read_nor_written(tmp_path: Path) -> None:
    root = _example_project(tmp_path)
    outside = tmp_path / "outside"
    marker = tmp_path / "pwned"
    _plant(outside / OLD_RELEASE_FOLDER, _old_cache_names(root), marker)
    before = _files(outside)
    (root / ".orchestrator").mkdir()
    (root / ".orchestrator" / "jinja-cache").symlink_to(outside, target_is_directory=True)
    for command in ("validate", "plan"):
        code, output = _run(root, command)
        assert not marker.exists(), f"`{command}` unpickled a cache file through the link"
        assert code == 0, output
    assert _files(outside) == before, "the tool wrote through a symbolic link in the checkout"


def test_compiled_templates_go_to_a_private_folder_in_the_users_cache(tmp_path: Path) -> None:
    root = _example_project(tmp_path)
    cache = Path(os.environ["ORCHESTRATOR_CACHE_DIR"])  # each test's own (tests/conftest.py)
    for _ in range(2):  # the second run reads what the first compiled
        code, output = _run(root, "plan")
        assert code == 0, output
    (project_cache,) = (cache / "jinja").iterdir()
    compiled = _files(project_cache)
    assert {p.parent.name for p in compiled} == {"text", "html"}
    for folder in (cache / "jinja", project_cache, project_cache / "text", project_cache / "html"):
        assert stat.S_IMODE(folder.lstat().st_mode) == 0o700, folder
    assert not (root / ".orchestrator" / "jinja-cache").exists()
    assert not any(p.name.endswith(".cache") for p in root.rglob("*"))


def test_an_existing_cache_folder_open_to_others_is_made_owner_only(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "jinja").mkdir(parents=True)
    (cache / "jinja").chmod(0o777)
    Renderer(tmp_path, cache_dir=cache).render(Source("text", inline="{{ x }}"), {"x": 1})
    assert stat.S_IMODE((cache / "jinja").stat().st_mode) == 0o700
    assert any((cache / "jinja").rglob("*.cache"))


def test_two_projects_keep_apart_caches(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        Renderer(tmp_path / name, cache_dir=cache).render(Source("text", inline="{{ x }}"), {"x": 1})
    assert len(list((cache / "jinja").iterdir())) == 2


def test_a_symlinked_or_foreign_user_cache_is_not_used(tmp_path: Path) -> None:
    """Whoever can write the cache folder can run code in the next render: refuse what is not ours."""
    cache = tmp_path / "cache"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cache.mkdir()
    (cache / "jinja").symlink_to(elsewhere, target_is_directory=True)
    renderer = Renderer(tmp_path, cache_dir=cache)
    assert renderer.render(Source("text", inline="{{ x }}"), {"x": 1}) == "1"  # renders, without a cache
    assert not any(elsewhere.iterdir())
    assert private_folder(cache, "jinja") is None
    assert private_folder(tmp_path, "mine", uid=os.getuid() + 1) is None  # owned by someone else
    assert private_folder(tmp_path, "mine") == tmp_path / "mine"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_cache_folder_owned_by_another_user_is_not_written(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "jinja").mkdir(parents=True)
    os.chown(cache / "jinja", 65534, 65534)
    Renderer(tmp_path, cache_dir=cache).render(Source("text", inline="{{ x }}"), {"x": 1})
    assert not any((cache / "jinja").iterdir())


def test_a_cache_folder_inside_the_project_is_not_used(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    assert template_cache_root(root, {"ORCHESTRATOR_CACHE_DIR": str(root / ".cache")}) is None
    assert template_cache_root(root, {"ORCHESTRATOR_CACHE_DIR": str(tmp_path / "c")}) == tmp_path / "c"
    assert template_cache_root(root, {"XDG_CACHE_HOME": str(tmp_path / "x")}) == tmp_path / "x" / "orchestrator"
