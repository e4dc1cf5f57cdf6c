"""Output folders a run owns: created by it, or found empty and real, and listed in a manifest.

A pull request is hostile input. A committed ``plan-comment/plan-0.md`` was posted as the bot's
own comment; a committed symlink named ``previews`` made the tool write outside the checkout, and
a stale-part clean-up deleted a file there. So every folder the CLI writes into
(``plan --out-dir``, ``--previews``, ``render --out``, ``preview --out``) is claimed here:

* it is created by this run, or it is an existing **empty** real folder: anything already in it
  could be taken for ours, so a folder holding files is refused;
* it is reached without following a symbolic link inside the project or the CI checkout (a
  pull request controls those), and its last component is never a link, wherever it is;
* every file is created relative to the folder's descriptor with ``O_CREAT | O_EXCL |
  O_NOFOLLOW``: nothing is overwritten, no link is followed, and nothing is ever deleted;
* :meth:`OutputFolder.finish` writes ``manifest.json`` last, listing exactly the files this run
  wrote with their sha256: a consumer (the pull-request workflow) posts only what it lists, and
  a folder without a manifest is incomplete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from orchestrator.errors import OrchestratorError

#: The file :meth:`OutputFolder.finish` writes last, listing what the run wrote.
MANIFEST = "manifest.json"
#: Bumped when the manifest's shape changes (a consumer checks it).
MANIFEST_VERSION = 1
#: What every refusal tells the user to do.
REMEDY = "remove it or choose another folder (a folder that does not exist yet is created)"

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Written:
    """One file a run wrote: its path inside the folder (``/``-separated), sha256 and size."""

    path: str
    sha256: str
    size: int


def trusted_roots(project_root: Path | None, environ: Mapping[str, str] | None = None) -> list[Path]:
    """The trees whose content a pull request controls: the project and, in GitHub Actions, the checkout."""
    environ = os.environ if environ is None else environ
    roots = [project_root] if project_root is not None else []
    if environ.get("GITHUB_WORKSPACE"):
        roots.append(Path(environ["GITHUB_WORKSPACE"]))
    return roots


class OutputFolder:
    """A folder this run owns; files go in only through :meth:`write_bytes` / :meth:`write_text`.

    ``path`` is for messages and for the paths callers show; every operation uses the folder's
    open descriptor, so renaming or relinking the path afterwards cannot redirect a write.
    """

    def __init__(self, path: Path, fd: int, option: str) -> None:
        self.path = path
        self.option = option
        self._folders: dict[str, int] = {"": fd}
        self._written: list[Written] = []
        self._finished = False

    @property
    def written(self) -> list[Written]:
        """The files written so far, in order."""
        return list(self._written)

    def subfolder(self, name: str) -> str:
        """Create the folder ``name`` (one level deep) and return its name.

        When this run already made a folder of that name (two send keys that read alike), the
        new one is ``name-2``, ``name-3``, ...: one send's files never replace another's.
        """
        _check_name(name)
        candidate, number = name, 1
        while candidate in self._folders:
            number += 1
            candidate = f"{name}-{number}"
        top = self._folders[""]
        try:
            os.mkdir(candidate, 0o777, dir_fd=top)
            self._folders[candidate] = os.open(candidate, _DIR | os.O_NOFOLLOW, dir_fd=top)
        except FileExistsError:
            raise self._intruder(candidate) from None
        except OSError as exc:
            raise OrchestratorError(f"cannot create {self.path / candidate}: {exc.strerror}") from None
        return candidate

    def write_bytes(self, relative: str, data: bytes, *, mode: int | None = None) -> Path:
        """Create ``relative`` (``name`` or ``folder/name``) holding ``data``; never replaces a file.

        ``mode`` sets the permissions exactly (:data:`orchestrator.atomic.PRIVATE` for comments
        that may quote prospects); ``None`` gives the usual ``0666 & ~umask``.
        """
        folder, _, name = relative.rpartition("/")
        _check_name(name)
        if folder not in self._folders:
            raise ValueError(f"{folder!r} is not a folder this run created")
        if self._finished:
            raise ValueError(f"{self.path} is finished: its manifest is written")
        shown = self.path / relative
        try:
            fd = os.open(name, _NEW_FILE, 0o666 if mode is None else 0o600, dir_fd=self._folders[folder])
        except FileExistsError:
            raise self._intruder(relative) from None
        except OSError as exc:
            raise OrchestratorError(f"cannot write {shown}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                if mode is not None:
                    os.fchmod(handle.fileno(), mode)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise OrchestratorError(f"cannot write {shown}: {exc.strerror}") from None
        self._written.append(Written(relative, hashlib.sha256(data).hexdigest(), len(data)))
        return shown

    def write_text(self, relative: str, text: str, *, mode: int | None = None) -> Path:
        """:meth:`write_bytes` of ``text`` in UTF-8."""
        return self.write_bytes(relative, text.encode("utf-8"), mode=mode)

    def finish(self) -> Path:
        """Write :data:`MANIFEST` (every file written, in order, with its sha256) and close the folder."""
        manifest = {
            "written_by": "orchestrator",
            "version": MANIFEST_VERSION,
            "files": [{"path": w.path, "sha256": w.sha256, "bytes": w.size} for w in self._written],
        }
        text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
        try:
            path = self.write_text(MANIFEST, text)
            self._written.pop()  # the manifest does not list itself
        finally:
            self.close()
        self._finished = True
        return path

    def close(self) -> None:
        """Close the folder's descriptors (without a manifest unless :meth:`finish` wrote it)."""
        for fd in self._folders.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._folders = {}

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _intruder(self, relative: str) -> OrchestratorError:
        return OrchestratorError(
            f"{self.option} {self.path}: {relative} appeared in the folder while this run was writing it",
            hint=f"something else writes into {self.path}: {REMEDY}",
        )


def claim(path: Path, *, option: str, trusted: Sequence[Path] = ()) -> OutputFolder:
    """The folder ``path`` for this run's output: created now, or an existing empty real folder.

    ``option`` (``--out-dir``) names the setting in messages. Components inside one of the
    ``trusted`` trees (see :func:`trusted_roots`) and the last component are never followed
    through a symbolic link; a folder that already holds anything is refused.
    """
    fd, created = _open(path, option, trusted)
    try:
        if not created:
            present = sorted(os.listdir(fd))
            if present:
                shown = ", ".join(present[:5]) + (f" and {len(present) - 5} more" if len(present) > 5 else "")
                raise OrchestratorError(
                    f"{option} {path}: the folder already holds {shown}, which this run did not write; "
                    "output goes only into a new or empty folder, so nothing planted there is taken for ours",
                    hint="remove the folder (or empty it) or choose another folder (a folder that does not exist "
                    "yet is created)",
                )
    except BaseException:
        os.close(fd)
        raise
    return OutputFolder(path, fd, option)


def claim_new(parent: Path, stem: str, *, option: str, trusted: Sequence[Path] = ()) -> OutputFolder:
    """A new folder ``parent/stem-N`` (N one more than the highest there), for a default location.

    ``parent`` may hold earlier runs' folders; it is reached like :func:`claim`'s path, and the
    new folder is created exclusively, so it holds only what this run writes.
    """
    _check_name(stem)
    fd, _ = _open(parent, option, trusted)
    try:
        taken = [_number(name, stem) for name in os.listdir(fd)]
        number = max([n for n in taken if n is not None], default=0) + 1
        for attempt in range(number, number + 100):
            name = f"{stem}-{attempt}"
            try:
                os.mkdir(name, 0o777, dir_fd=fd)
            except FileExistsError:
                continue
            return OutputFolder(parent / name, os.open(name, _DIR | os.O_NOFOLLOW, dir_fd=fd), option)
        raise OrchestratorError(f"{option} {parent}: no free folder name for {stem}", hint=REMEDY)
    except OSError as exc:
        raise OrchestratorError(f"{option} {parent}: cannot create a folder there: {exc.strerror}") from None
    finally:
        os.close(fd)


def _number(name: str, stem: str) -> int | None:
    suffix = name.removeprefix(f"{stem}-")
    return int(suffix) if suffix != name and suffix.isdigit() else None


def _open(path: Path, option: str, trusted: Sequence[Path]) -> tuple[int, bool]:
    """Walk to ``path`` one component at a time, creating what is missing; (descriptor, created).

    Each step opens the next component relative to the previous descriptor, so what is checked
    is what is used. Inside a trusted tree, and for the last component, ``O_NOFOLLOW`` refuses a
    link; outside (``/tmp`` may itself be a link on some systems) links are followed as usual.
    """
    roots = [os.path.realpath(root) for root in trusted]
    names = [name for name in path.parts if name != path.anchor]
    fd = os.open(path.anchor or ".", _DIR)
    real = os.path.realpath(path.anchor or ".")
    created = False
    try:
        for index, name in enumerate(names):
            if name == "..":  # a real parent: never a link
                fd = _step(fd, os.open("..", _DIR, dir_fd=fd))
                real = os.path.dirname(real)
                continue
            follow = index < len(names) - 1 and not any(_within(real, root) for root in roots)
            try:
                child = os.open(name, _DIR if follow else _DIR | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                child = _create(fd, name, path, names[: index + 1], option)
                created = True
            except OSError as exc:
                raise _refusal(fd, name, exc, path, names[: index + 1], option) from None
            fd = _step(fd, child)
            real = os.path.realpath(os.path.join(real, name)) if follow else os.path.join(real, name)
    except BaseException:
        os.close(fd)
        raise
    return fd, created


def _step(old: int, new: int) -> int:
    os.close(old)
    return new


def _create(parent: int, name: str, path: Path, walked: list[str], option: str) -> int:
    where = Path(*walked) if not path.anchor else Path(path.anchor, *walked)
    try:
        os.mkdir(name, 0o777, dir_fd=parent)
        return os.open(name, _DIR | os.O_NOFOLLOW, dir_fd=parent)
    except FileExistsError:  # a dangling link outside the trusted trees, or a race
        raise OrchestratorError(
            f"{option} {path}: {where} is a link to nothing, or appeared while the folder was made", hint=REMEDY
        ) from None
    except OSError as exc:
        raise OrchestratorError(f"{option} {path}: cannot create {where}: {exc.strerror}") from None


def _refusal(parent: int, name: str, exc: OSError, path: Path, walked: list[str], option: str) -> OrchestratorError:
    """Why ``name`` cannot be walked through: a link, a file, or the system's reason."""
    where = Path(*walked) if not path.anchor else Path(path.anchor, *walked)
    try:
        kind = os.lstat(name, dir_fd=parent).st_mode
    except OSError:
        kind = 0
    if stat.S_ISLNK(kind):
        return OrchestratorError(
            f"{option} {path}: {where} is a symbolic link; output is never written through a link "
            "(a checkout can point one anywhere)",
            hint=REMEDY,
        )
    if kind and not stat.S_ISDIR(kind):
        return OrchestratorError(f"{option} {path}: {where} is a file, not a folder", hint=REMEDY)
    return OrchestratorError(f"{option} {path}: cannot open {where}: {exc.strerror}", hint=REMEDY)


def _within(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _check_name(name: str) -> None:
    """A single, plain file or folder name: never a path, never ``..``."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"not a plain file name: {name!r}")
