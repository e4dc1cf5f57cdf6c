"""``orchestrator init [DIR]``: a working starter project, and with ``--ci github`` its workflows.

Everything written comes from :mod:`orchestrator.scaffold` (shipped inside the package), so
``init`` works from an installed wheel. Existing files are never overwritten: if any target
exists, nothing is written at all. The one exception is ``.gitignore``, which commonly exists
already: the entries it lacks are appended (plans hold prospect addresses and must stay out of
git), and nothing else in it is touched.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import click

from orchestrator.atomic import write_text
from orchestrator.errors import OrchestratorError

#: Scaffold folder -> where its files go in the new project.
_TREES = {"project": Path("."), "github": Path(".github") / "workflows"}
#: Scaffold files whose names cannot be shipped as they are.
_RENAMES = {"gitignore": ".gitignore"}


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
    help="Also write CI workflows: github writes .github/workflows/orchestrator-{plan,apply}.yml.",
)
def init_cmd(directory: Path, ci: str | None) -> None:
    """Create a starter project in DIR (default: here) that validates, plans and applies at once.

    Writes orchestrator.yaml (the built-in sandbox, and a commented production environment),
    one example campaign with a shared layout, and .gitignore entries that keep local state and
    saved plans (which hold prospect addresses) out of git. Never overwrites a file. In a folder
    that already has orchestrator.yaml, --ci github adds only the workflows.
    """
    files = scaffold_files(ci)
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
        click.echo("CI: add the secrets and the production environment described in docs/ci.md.")
