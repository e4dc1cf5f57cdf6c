"""The house has no cycles, and its layers point one way (imports inside functions included).

* No import cycle between modules of ``orchestrator``: a function-level import is an import too
  (it only hides the edge from a reader).
* ``cli/`` is on top: no other module imports it.
* ``preview/`` sits beside ``cli/``: only ``cli/`` and ``preview/`` import it (merge-tag filling,
  which lints need too, is the leaf :mod:`orchestrator.mergetags`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import orchestrator

PACKAGE = Path(orchestrator.__file__).resolve().parent


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
                    break
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_check_sees_function_level_imports() -> None:
    graph = {"a": {"b"}, "b": {"a"}, "c": set()}
    assert _cycles(graph) == [["a", "b"]]


def test_nothing_below_the_cli_imports_it() -> None:
    graph = _graph()
    offenders = sorted(
        f"{name} -> {dep}"
        for name, deps in graph.items()
        if not name.startswith("orchestrator.cli") and name != "orchestrator.__main__"  # `python -m`
        for dep in deps
        if dep.startswith("orchestrator.cli")
    )
    assert offenders == []


def test_only_the_cli_and_the_previews_import_the_previews() -> None:
    graph = _graph()
    offenders = sorted(
        f"{name} -> {dep}"
        for name, deps in graph.items()
        if not name.startswith(("orchestrator.cli", "orchestrator.preview"))
        for dep in deps
        if dep.startswith("orchestrator.preview")
    )
    assert offenders == []


def test_the_product_and_the_sandbox_agree_on_the_sandbox_defaults() -> None:
    from orchestrator.sandbox.config import DEFAULT_ACCOUNT_TIMEZONE, SANDBOX_BUSINESS_UNIT
    from orchestrator.sandbox_defaults import DEFAULT_SANDBOX_ACCOUNT_TIMEZONE
    from orchestrator.sandbox_defaults import SANDBOX_BUSINESS_UNIT as PRODUCTS_COPY

    assert (PRODUCTS_COPY, DEFAULT_SANDBOX_ACCOUNT_TIMEZONE) == (SANDBOX_BUSINESS_UNIT, DEFAULT_ACCOUNT_TIMEZONE)


def test_the_sandbox_defaults_are_a_leaf() -> None:
    """``config`` reads them, and the sandbox's command too: they import nothing of ours."""
    assert _graph()["orchestrator.sandbox_defaults"] == set()


def test_whether_an_environment_is_the_sandbox_is_decided_in_config_only() -> None:
    """``Environment.is_sandbox`` is the one reading of ``api.kind``; no module re-reads the raw dict.

    Six modules used to test ``api.get("kind") == "sandbox"`` each on their own (issue 21).
    """
    readers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] in ("config.py", "sandbox"):
            continue  # config parses the raw document; the sandbox stands apart
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare) and any(
                isinstance(side, ast.Constant) and side.value == "sandbox" for side in [node.left, *node.comparators]
            ):
                readers.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert readers == [], f"read Environment.is_sandbox instead of api['kind'] at {readers}"


#: The plan path's stages in pipeline order (docs/architecture.md): each may use the ones before
#: it, never one after it, so the files read as the pipeline and a stage can be read alone.
PLAN_PATH = (
    "orchestrator.project",
    "orchestrator.desired_sends",
    "orchestrator.planner",
    "orchestrator.planning",
    "orchestrator.applying",
)


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_each_stage_of_the_plan_path_uses_only_the_stages_before_it() -> None:
    graph = _graph()
    backwards = sorted(
        f"{stage} reaches {later}"
        for i, stage in enumerate(PLAN_PATH)
        for later in PLAN_PATH[i + 1 :]
        if later in _reachable(graph, stage)
    )
    assert backwards == []
    assert all(stage in graph for stage in PLAN_PATH)  # a renamed stage fails here, not silently


def _dict_reads_of_settings(tree: ast.AST) -> list[int]:
    """Lines that read ``api`` or ``state`` as a mapping: ``env.api.get(...)``, ``env.state["path"]``,
    or the same through a local of that name (``api = env.api; api.get(...)``)."""

    def names_settings(node: ast.expr) -> bool:
        if isinstance(node, ast.Attribute):
            return node.attr in ("api", "state")
        return isinstance(node, ast.Name) and node.id in ("api", "state")

    lines = []
    for node in ast.walk(tree):
        read: ast.expr | None = None
        if isinstance(node, ast.Subscript):
            read = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            read = node.func.value if node.func.attr in ("get", "items", "keys", "values") else None
        if read is not None and names_settings(read):
            lines.append(read.lineno)
    return lines


def test_only_config_reads_the_api_and_state_settings_as_mappings() -> None:
    """``config`` parses ``api:`` and ``state:`` once into typed values; the rest reads attributes.

    ``env.api.get("version", 4)`` used to repeat a default in every reader (issue 21).
    """
    readers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] in ("config.py", "sandbox"):
            continue  # config parses the raw document; the sandbox stands apart
        tree = ast.parse(path.read_text(encoding="utf-8"))
        readers += [f"{path.relative_to(PACKAGE)}:{line}" for line in _dict_reads_of_settings(tree)]
    assert readers == [], f"read the attributes of Environment.api / Environment.state instead, at {readers}"


def test_the_settings_check_sees_each_form_of_mapping_read() -> None:
    code = 'env.api.get("version", 4)\nenv.state["dsn_env"]\napi = env.api\napi.get("db")\nenv.api.version\n'
    assert _dict_reads_of_settings(ast.parse(code)) == [1, 2, 4]
