"""Safe YAML loading that keeps every node's position.

Why not ``yaml.safe_load``: it silently keeps the last of two duplicate keys, turns
``2027-03-01`` into a ``date`` behind the author's back, expands aliases without limit (a
"billion laughs" file eats all memory), and forgets where each value came from, so a schema
error could not point at a line.  Here the file is *composed* into a node graph (aliases stay
shared, so composing is cheap), then walked once to build plain JSON-shaped data while
recording ``json path -> (line, col)`` and counting every node built, so alias expansion is
bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import Diagnostic

try:  # the libyaml C parser when present: several times faster on large projects
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

#: Files larger than this are refused before parsing.
MAX_FILE_BYTES = 1024 * 1024
#: Most nodes one document may expand to (aliases count each time they are used).
MAX_NODES = 100_000
#: Deepest nesting of mappings and sequences.
MAX_DEPTH = 64
#: Longest integer literal, in characters (sign, prefix and underscores included). Python
#: refuses to convert decimal integers of more than 4,300 digits (a ValueError), and a huge hex
#: literal converts but then breaks every message that prints it; no id or count needs more.
MAX_INT_CHARS = 40

JsonPath = tuple[str | int, ...]


class _Loader(_BaseLoader):
    """SafeLoader without the timestamp resolver: dates and times stay strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}

_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


@dataclass
class Document:
    """A loaded YAML document: the data plus where each part of it was written."""

    path: Path
    display: str
    data: Any
    positions: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, json_path: JsonPath) -> tuple[int, int]:
        """Line and column of the node at ``json_path``, or of its nearest located parent."""
        p = tuple(json_path)
        while p:
            if p in self.positions:
                return self.positions[p]
            p = p[:-1]
        return self.positions.get((), (1, 1))

    def diagnostic(self, json_path: JsonPath, message: str, severity: str = "error") -> Diagnostic:
        """A diagnostic pointing at the node at ``json_path``."""
        line, col = self.locate(json_path)
        return Diagnostic(self.display, line, col, message, severity)


class YamlLoadError(Exception):
    """Internal: carries a located loading problem out of the node walk."""

    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.col = col
        self.message = message


class _Builder:
    """Walks a composed node graph into plain data, recording positions."""

    def __init__(self, constructor: Any) -> None:
        self.constructor = constructor
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        self.count = 0

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            mark = node.start_mark
            raise YamlLoadError(
                mark.line + 1,
                mark.column + 1,
                f"document expands to more than {MAX_NODES} nodes (alias bomb?); use fewer anchors and aliases",
            )
        if len(path) > MAX_DEPTH:
            mark = node.start_mark
            raise YamlLoadError(mark.line + 1, mark.column + 1, f"nested more than {MAX_DEPTH} levels deep")
        self.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _COLLECTION_TAGS:
            mark = node.start_mark
            raise YamlLoadError(mark.line + 1, mark.column + 1, f"unsupported YAML tag {node.tag!r}")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        mark = node.start_mark
        if node.tag not in _SCALAR_TAGS:
            raise YamlLoadError(mark.line + 1, mark.column + 1, f"unsupported YAML tag {node.tag!r}")
        if node.tag == "tag:yaml.org,2002:int" and len(str(node.value)) > MAX_INT_CHARS:
            raise YamlLoadError(
                mark.line + 1,
                mark.column + 1,
                f"integer of {len(str(node.value)):,} characters is too long (at most {MAX_INT_CHARS}); "
                "quote it if it is meant as text",
            )
        return self.constructor.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        explicit: set[str] = set()
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged.update(self._merge_source(value_node, path))
                continue
            key = self._key(key_node)
            if key in explicit:
                mark = key_node.start_mark
                raise YamlLoadError(mark.line + 1, mark.column + 1, f"duplicate key {key!r} in this mapping")
            explicit.add(key)
            self.positions[(*path, key)] = (
                value_node.start_mark.line + 1,
                value_node.start_mark.column + 1,
            )
            result[key] = self.build(value_node, (*path, key))
        return {**{k: v for k, v in merged.items() if k not in explicit}, **result}

    def _merge_source(self, node: yaml.Node, path: JsonPath) -> dict[str, Any]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out: dict[str, Any] = {}
        for src in reversed(sources):  # earlier sources win, as in YAML's merge key spec
            built = self.build(src, path)
            if not isinstance(built, dict):
                mark = src.start_mark
                raise YamlLoadError(mark.line + 1, mark.column + 1, "a merge key (<<) needs a mapping")
            out.update(built)
        return out

    def _key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            mark = node.start_mark
            raise YamlLoadError(mark.line + 1, mark.column + 1, "mapping keys must be plain text")
        # The key's text as written: ``on:`` stays "on", not YAML 1.1's boolean True.
        return str(node.value)


def load_yaml(path: Path, display: str | None = None) -> Document | Diagnostic:
    """Load one YAML file; return the document, or a located diagnostic saying why not.

    Problems are returned, not raised, so a project with ten broken files reports all ten.
    """
    shown = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return Diagnostic(shown, 0, 0, f"file is {size} bytes; the limit is {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return Diagnostic(shown, 0, 0, f"not UTF-8 text: {exc.reason}")
    except OSError as exc:
        return Diagnostic(shown, 0, 0, f"cannot read file: {exc.strerror}")
    return load_yaml_text(text, shown, path)


def load_yaml_text(text: str, display: str, path: Path | None = None) -> Document | Diagnostic:
    """Like :func:`load_yaml`, from text already in memory."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(path or Path(display), display, None, {(): (1, 1)})
        builder = _Builder(loader)
        data = builder.build(node, ())
        return Document(path or Path(display), display, data, builder.positions)
    except YamlLoadError as exc:
        return Diagnostic(display, exc.line, exc.col, exc.message)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = exc.problem or exc.context or "invalid YAML"
        return Diagnostic(display, line, col, f"YAML syntax error: {problem}")
    except yaml.YAMLError as exc:
        return Diagnostic(display, 0, 0, f"YAML error: {exc}")
    finally:
        loader.dispose()
