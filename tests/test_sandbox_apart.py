"""The sandbox stands apart from the product (issue 12), and the error tables agree.

* Only ``orchestrator/connect.py`` (and the sandbox's own command, ``cli/sandbox.py``)
  imports the sandbox; the rest of the product talks to a client and never asks what is behind.
* The sandbox refuses with its own type and keeps no table of what codes mean: the client's
  :mod:`orchestrator.pardot.errormap` is the one table, and ``errors.py``'s tree quotes it.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from orchestrator import errors
from orchestrator.pardot import errormap
from orchestrator.sandbox.wire import MESSAGES, SandboxRefusal, refuse

PACKAGE = Path(errors.__file__).resolve().parent
REPO = PACKAGE.parent

#: Product modules allowed to know the sandbox, relative to the package.
SANDBOX_KNOWERS = {"connect.py", "cli/sandbox.py"}


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (lazy imports inside functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _product_modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "sandbox" not in p.relative_to(PACKAGE).parts]


def test_only_connect_knows_the_sandbox() -> None:
    knowers = {
        str(path.relative_to(PACKAGE))
        for path in _product_modules()
        if any(name == "orchestrator.sandbox" or name.startswith("orchestrator.sandbox.") for name in _imports(path))
    }
    assert knowers <= SANDBOX_KNOWERS, knowers - SANDBOX_KNOWERS
    assert "connect.py" in knowers  # the scan sees lazy imports: connect's are inside functions


def test_the_sandbox_raises_none_of_the_products_api_errors() -> None:
    api_names = {name for name in dir(errors) if name.startswith("Api")}
    for path in (PACKAGE / "sandbox").rglob("*.py"):
        used = {name.rpartition(".")[2] for name in _imports(path) if name.startswith("orchestrator.errors.")}
        assert not used & api_names, f"{path.name} imports {sorted(used & api_names)}"


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_every_sandbox_refusal_is_its_own_type_with_pardots_message(code: int) -> None:
    refusal = refuse(code, "detail")
    assert isinstance(refusal, SandboxRefusal)
    assert not isinstance(refusal, errors.OrchestratorError)
    assert refusal.code == code and refusal.message == f"{MESSAGES[code]}: detail"
    assert refusal.http_status == (401 if code in {181, 182} else 400)


def _tree_codes(class_name: str) -> set[int]:
    """The error codes the tree in errors.py's docstring lists next to ``class_name``."""
    assert errors.__doc__ is not None
    line = next(line for line in errors.__doc__.splitlines() if f"── {class_name} " in line)
    return {int(n) for n in re.findall(r"(?<![\w])(\d{1,3})(?![\w])", line.split(class_name, 1)[1])}


def test_the_error_tree_quotes_the_one_code_table() -> None:
    assert _tree_codes("ApiNotFound") == set(errormap.NOT_FOUND_CODES)
    assert _tree_codes("ApiTransientError") == set(errormap.TRANSIENT_CODES)
    assert _tree_codes("ApiRateLimited") <= set(errormap.RATE_LIMITED_CODES)
    assert _tree_codes("ApiQuotaExceeded") == set(errormap.QUOTA_CODES)
    assert "AUTH_CODES" in (errors.ApiAuthError.__doc__ or "")


def test_filelock_is_not_a_dependency() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not [d for d in project["dependencies"] if d.lower().startswith("filelock")]
