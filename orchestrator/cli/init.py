"""``orchestrator init [DIR]``: a working starter project, and with ``--ci github`` its workflows.

Everything written comes from :mod:`orchestrator.scaffold` (shipped inside the package), so
``init`` works from an installed wheel. Existing files are never overwritten: if any target
exists, nothing is written at all. The one exception is ``.gitignore``, which commonly exists
already: the entries it lacks are appended (plans hold prospect addresses and must stay out of
git), and nothing else in it is touched.

``--ci github`` also writes ``.github/orchestrator-requirements.in``, what the workflows install
(``--pip-spec``, by default this version from PyPI). The workflows install only from its
hash-locked form, ``orchestrator-requirements.txt``, which needs the network to make: ``init``
stays offline and says how to make it, and that the pinned version must exist where pip looks.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import click

from orchestrator import __version__
from orchestrator.atomic import write_text
from orchestrator.errors import OrchestratorError

#: Scaffold folder -> where its files go in the new project.
_TREES = {"project": Path("."), "github": Path(".github") / "workflows"}
#: Scaffold files whose names cannot be shipped as they are.
_RENAMES = {"gitignore": ".gitignore"}
#: What the workflows install unless --pip-spec says otherwise: this very version, from PyPI.
DEFAULT_PIP_SPEC = f"pardot-orchestrator[preview]=={__version__}"
#: The requirements the workflows install, before and after locking (ORCHESTRATOR_REQUIREMENTS).
REQUIREMENTS_IN = Path(".github") / "orchestrator-requirements.in"
REQUIREMENTS_TXT = REQUIREMENTS_IN.with_suffix(".txt")
_LOCK = (
    f"pip-compile --generate-hashes --allow-unsafe --output-file {REQUIREMENTS_TXT.as_posix()} "
    f"{REQUIREMENTS_IN.as_posix()}"
)


def _walk(node: Traversable, prefix: Path) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name.startswith("__") or child.name.endswith(".pyc"):
            continue
        target = prefix / _RENAMES.get(child.name, child.name)
        if child.is_dir():
            out.extend(_walk(child, target))
        else:
            out.append((target, child.read_text(encoding="utf-8")))
    return out


def scaffold_files(ci: str | None) -> list[tuple[Path, str]]:
    """The files ``init`` writes, as (path relative to the project, text)."""
    root = resources.files("orchestrator.scaffold")
    files = _walk(root / "project", _TREES["project"])
    if ci == "github":
        files += _walk(root / "github", _TREES["github"])
    return files


def requirements_in(pip_spec: str) -> str:
    """The text of ``.github/orchestrator-requirements.in`` for ``pip_spec``."""
    return (
        "# What the orchestrator workflows install (docs/ci.md, \"Installing what was reviewed\").\n"
        "# The workflows install only the hash-locked orchestrator-requirements.txt next to this file\n"
        "# (pip install --require-hashes). Make it, and again after every change here, with pip-tools:\n"
        f"#   {_LOCK}\n"
        "# then review and commit both files.\n"
        f"{pip_spec}\n"
    )


def _check_pip_spec(pip_spec: str) -> str:
    """``pip_spec`` as one requirement line, or a located error saying what to give instead."""
    spec = pip_spec.strip()
    if not spec or spec.startswith("-") or "\n" in spec or "\r" in spec:
        raise click.BadParameter(
            f"{pip_spec!r} is not one requirement: give a name and version (pardot-orchestrator==0.1.0) "
            "or a wheel URL (pardot-orchestrator @ https://.../pardot_orchestrator-0.1.0-py3-none-any.whl)",
            param_hint="'--pip-spec'",
        )
    if "git+" in spec or spec.startswith(("hg+", "svn+", "bzr+")):
        raise click.BadParameter(
            f"{spec!r} is a version-control URL, which pip cannot check against a hash "
            "(the workflows install with --require-hashes): build a wheel of your fork "
            "(python -m build --wheel), publish it (a release asset, a private index) and give its URL",
            param_hint="'--pip-spec'",
        )
    return spec


def _merge_gitignore(path: Path, wanted: str) -> list[str]:
    """Append the lines of ``wanted`` that ``path`` lacks; return the entries added."""
    current = path.read_text(encoding="utf-8")
    have = {line.strip() for line in current.splitlines()}
    missing = [line for line in wanted.splitlines() if line.strip() and not line.startswith("#") and line not in have]
    if missing:
        sep = "" if current.endswith("\n") or not current else "\n"
        write_text(path, current + sep + "# added by orchestrator init\n" + "\n".join(missing) + "\n")
    return missing


@click.command("init")
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--ci",
    type=click.Choice(["github"]),
    help="Also write CI workflows: github writes .github/workflows/orchestrator-{plan,deploy}.yml "
    "and .github/orchestrator-requirements.in.",
)
@click.option(
    "--pip-spec",
    metavar="SPEC",
    help="With --ci github: what the workflows install, as one pip requirement (a version, or a wheel "
    f"URL for a fork or an unpublished build). Default: {DEFAULT_PIP_SPEC}.",
)
def init_cmd(directory: Path, ci: str | None, pip_spec: str | None) -> None:
    """Create a starter project in DIR (default: here) that validates, plans and applies at once.

    Writes orchestrator.yaml (the built-in sandbox, and a commented production environment),
    one example campaign with a shared layout, and .gitignore entries that keep local state and
    saved plans (which hold prospect addresses) out of git. Never overwrites a file. In a folder
    that already has orchestrator.yaml, --ci github adds only the workflows.
    """
    if pip_spec is not None and ci is None:
        raise click.UsageError("--pip-spec sets what the CI workflows install: use it with --ci github")
    spec = _check_pip_spec(pip_spec) if pip_spec is not None else DEFAULT_PIP_SPEC
    files = scaffold_files(ci)
    if ci == "github":
        files.append((REQUIREMENTS_IN, requirements_in(spec)))
    adding_ci = ci is not None and (directory / "orchestrator.yaml").exists()
    if adding_ci:  # an existing project: only the workflows (and .gitignore entries) are added
        files = [(rel, text) for rel, text in files if rel.parts[0] == ".github" or rel.name == ".gitignore"]
    existing = [rel for rel, _ in files if (directory / rel).exists() and rel.name != ".gitignore"]
    if existing:
        listed = ", ".join(str(rel) for rel in existing)
        raise OrchestratorError(
            f"{directory} already has {listed}; nothing was written",
            hint="move those files away first (init never overwrites a file)"
            if adding_ci
            else "run `orchestrator init` in an empty folder, `orchestrator init --ci github` in an existing "
            "project to add only the workflows, or move those files away first",
        )
    done: list[str] = []
    try:
        for rel, text in files:
            target = directory / rel
            if rel.name == ".gitignore" and target.exists():
                added = _merge_gitignore(target, text)
                done.append(f"updated {rel} (added {', '.join(added)})" if added else f"kept {rel} (already complete)")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            write_text(target, text)
            done.append(f"created {rel}")
    except OSError as exc:
        raise OrchestratorError(f"cannot write the project into {directory}: {exc.strerror}") from None
    for line in done:
        click.echo(line)
    where = "" if directory == Path(".") else f"cd {directory} && "
    if not adding_ci:
        click.echo(f"\nNext: {where}orchestrator validate && orchestrator plan && orchestrator apply")
    if ci == "github":
        click.echo(
            f"\nCI: the workflows install {spec} from the hash-locked {REQUIREMENTS_TXT.as_posix()}, "
            "which you make (it needs the network) with:\n"
            f"  {where}{_LOCK}\n"
            "That requirement must resolve where pip looks (PyPI, your index, or its URL): check with "
            f"`pip download --no-deps '{spec}'`."
        )
        if pip_spec is None:
            click.echo(
                f"Note: {spec} is this build's own version; if it is not published (a fork, a development build), "
                "pass --pip-spec with the URL of a wheel you publish."
            )
        click.echo("Then add the secrets, the production environment and its reviewers described in docs/ci.md.")
