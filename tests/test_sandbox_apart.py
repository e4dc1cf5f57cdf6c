"""The sandbox stands apart from the product (issue 12), and the error tables agree.

* Only ``orchestrator/connect.py`` (and the sandbox's own command, ``cli/sandbox.py``)
  imports the sandbox; the rest of the product talks to a client and never asks what is behind.
* The sandbox refuses with its own type and keeps no table of what codes mean: the client's
  :mod:`orchestrator.pardot.errormap` is the one table, and ``errors.py``'s tree quotes it.
* The sandbox raises none of the product's error types, not even to fail its own setup (a bad
  seed, a database it cannot open): it has its own (:mod:`orchestrator.sandbox.errors`), and
  ``connect.sandbox_app`` translates them for the product.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import tomllib
from pathlib import Path

import pytest

import orchestrator.sandbox
from orchestrator import errors
from orchestrator.config import Environment, load_config
from orchestrator.connect import sandbox_app
from orchestrator.pardot import errormap
from orchestrator.sandbox.errors import SandboxSeedError, SandboxSetupError, SandboxStorageError
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


def _product_error_imports(source: str) -> list[str]:
    """What ``source`` takes from :mod:`orchestrator.errors` that could be raised or subclassed.

    A name ending in ``Error`` or ``Changed``, or naming an exception class there, counts; so
    does the module itself (``errors.ConfigError`` would go unseen). Pure helpers
    (``display_path``) do not.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "orchestrator.errors":
            for alias in node.names:
                value = getattr(errors, alias.name, None)
                if alias.name.endswith(("Error", "Changed")) or (
                    isinstance(value, type) and issubclass(value, BaseException)
                ):
                    found.append(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module == "orchestrator":
            found += [alias.name for alias in node.names if alias.name == "errors"]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name == "orchestrator.errors"]
    return found


def test_the_sandbox_imports_no_product_error_type() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): names
        for path in sorted((PACKAGE / "sandbox").rglob("*.py"))
        if (names := _product_error_imports(path.read_text(encoding="utf-8")))
    }
    assert not offenders


def test_the_import_check_sees_what_the_sandbox_once_did() -> None:
    """The lines seed.py, app.py and store.py had before the sandbox got its own setup errors."""
    assert _product_error_imports("from orchestrator.errors import ConfigError, display_path") == ["ConfigError"]
    assert _product_error_imports("from orchestrator.errors import StateError, display_path") == ["StateError"]
    assert _product_error_imports("from orchestrator.errors import SeedChanged") == ["SeedChanged"]
    assert _product_error_imports("from orchestrator.errors import OrchestratorError as Base") == [
        "OrchestratorError"
    ]
    assert _product_error_imports("import orchestrator.errors") == ["orchestrator.errors"]
    assert _product_error_imports("from orchestrator import errors") == ["errors"]
    assert _product_error_imports("from orchestrator.errors import display_path") == []


def test_no_sandbox_class_is_a_product_error() -> None:
    modules = [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(orchestrator.sandbox.__path__, "orchestrator.sandbox.")
    ]
    classes = [
        cls
        for module in modules
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__
    ]
    assert SandboxSetupError in classes and any(cls.__name__ == "SeedChanged" for cls in classes)
    assert [cls for cls in classes if issubclass(cls, errors.OrchestratorError)] == []


def _env(tmp_path: Path, api: str) -> Environment:
    """The one environment of a project in ``tmp_path`` whose sandbox is set up with ``api``."""
    (tmp_path / "orchestrator.yaml").write_text(
        f"version: 1\nenvironments:\n  dev:\n    {api}\n    state: {{backend: sqlite}}\n"
    )
    return load_config(tmp_path).environment("dev")


def _sandbox_env(tmp_path: Path, api: str) -> errors.OrchestratorError:
    """What ``connect.sandbox_app`` raises for a project whose sandbox is set up with ``api``."""
    env = _env(tmp_path, api)
    with pytest.raises(errors.OrchestratorError) as caught:
        sandbox_app(env, tmp_path)
    return caught.value


def test_connect_translates_a_bad_seed_into_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("lists: [{id: 1}]\n")
    raised = _sandbox_env(tmp_path, "api: {kind: sandbox, seed: bad.yaml}")
    assert type(raised) is errors.ConfigError and isinstance(raised.__cause__, SandboxSeedError)
    assert raised.message == raised.__cause__.message
    assert "bad.yaml::$.lists.0: 'name' is a required property" in raised.message


def test_connect_keeps_the_hint_of_a_changed_seed(tmp_path: Path) -> None:
    (tmp_path / "seed.yaml").write_text("campaigns: [{id: 7001, name: spring}]\n")
    sandbox_app(_env(tmp_path, "api: {kind: sandbox, seed: seed.yaml}"), tmp_path).close()
    (tmp_path / "seed.yaml").write_text("campaigns: [{id: 7002, name: autumn}]\n")
    raised = _sandbox_env(tmp_path, "api: {kind: sandbox, seed: seed.yaml}")
    assert type(raised) is errors.ConfigError and type(raised.__cause__).__name__ == "SeedChanged"
    assert raised.hint and "orchestrator sandbox reset" in raised.hint


def test_connect_translates_an_unusable_database_into_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "not-a.db").write_bytes(b"this is no SQLite database, " * 100)
    raised = _sandbox_env(tmp_path, "api: {kind: sandbox, db: not-a.db}")
    assert type(raised) is errors.StateError and isinstance(raised.__cause__, SandboxStorageError)
    assert raised.message.startswith("cannot open the sandbox database (")


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


def test_no_product_module_reads_the_sandbox_database() -> None:
    """The sandbox's tables are its own: the product asks it through the API, like any client."""
    readers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("sandbox/"):
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"\.store\.(reading|transaction)\(|FROM (prospects|emails|templates|list_members)\b", text):
            readers.append(relative)
    assert readers == []
