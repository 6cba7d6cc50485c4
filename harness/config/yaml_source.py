"""YAML text -> plain data plus the line of every key path, for file:line errors.

PyYAML's ``compose`` gives nodes with ``start_mark``; walking them ourselves
keeps each value's line, which ``yaml.safe_load`` throws away. Problems found
here (syntax, duplicate keys, non-text input) are returned, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.runner import Problem

KeyPath = tuple[str | int, ...]

MAX_NODES = 100_000
MAX_DEPTH = 200
MAX_FILE_BYTES = 1024 * 1024


@dataclass
class YamlDocument:
    """The plain data of a YAML file and where each key path starts (1-based lines)."""

    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, else of its closest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


class _TooLarge(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def read_yaml(path: Path) -> tuple[YamlDocument | None, list[Problem]]:
    """Read ``path`` as one YAML document. Never raises for bad content."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, [Problem(path, None, "file", f"cannot read: {exc.strerror or exc}")]
    if len(raw) > MAX_FILE_BYTES:
        return None, [Problem(path, None, "file", f"larger than {MAX_FILE_BYTES} bytes")]
    return parse_yaml(raw, path)


def parse_yaml(raw: bytes | str, path: Path) -> tuple[YamlDocument | None, list[Problem]]:
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            return None, [Problem(path, line, "file", f"not UTF-8 text (byte {exc.start})")]
    else:
        text = raw
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        mark_line = mark.line + 1 if mark is not None else None
        message = " ".join(part for part in (exc.context, exc.problem) if part) or "bad YAML"
        return None, [Problem(path, mark_line, "yaml", f"YAML syntax error: {message}")]
    except yaml.reader.ReaderError as exc:
        bad_line = text[: exc.position].count("\n") + 1
        return None, [Problem(path, bad_line, "yaml", f"YAML error: {exc.reason}")]
    except yaml.YAMLError as exc:
        return None, [Problem(path, None, "yaml", f"YAML error: {_one_line(str(exc))}")]
    except RecursionError:
        return None, [Problem(path, None, "yaml", "YAML nested too deeply")]
    if node is None:
        return None, [Problem(path, 1, "file", "the file is empty: expected a suite mapping")]
    bomb_line = _alias_bomb_line(node)
    if bomb_line is not None:  # refused before expanding anything
        return None, [Problem(path, bomb_line, "yaml", f"YAML too large (more than {MAX_NODES}"
                              " nodes once its aliases are expanded)")]
    document = YamlDocument(data=None)
    problems: list[Problem] = []
    walker = _Walker(loader, document, problems, path)
    try:
        document.data = walker.plain(node, (), 0)
    except _TooLarge as exc:
        return None, [Problem(path, exc.line, "yaml", str(exc))]
    return document, problems


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int], depth: int) -> int:
    """How many nodes ``node`` becomes with its aliases expanded (capped just above
    MAX_NODES), counting every distinct node once: an alias bomb costs its size in
    bytes, not its expansion. Cycles and excess depth are left to the walker."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active or depth > MAX_DEPTH:
        return 1
    active.add(key)
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    size = 1
    for child in children:
        size = min(size + _expanded_size(child, memo, active, depth + 1), MAX_NODES + 1)
    active.discard(key)
    memo[key] = size
    return size


def _alias_bomb_line(root: yaml.Node) -> int | None:
    """The line of the innermost node that expands past MAX_NODES, or None."""
    memo: dict[int, int] = {}
    if _expanded_size(root, memo, set(), 0) <= MAX_NODES:
        return None
    node = root
    while True:
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        big = [c for c in children if memo.get(id(c), 0) > MAX_NODES]
        if not big:
            return int(node.start_mark.line) + 1
        node = big[0]


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Walker:
    def __init__(
        self, loader: yaml.SafeLoader, document: YamlDocument, problems: list[Problem], path: Path
    ) -> None:
        self.loader = loader
        self.document = document
        self.problems = problems
        self.path = path
        self.count = 0
        self.active: set[int] = set()

    def plain(self, node: yaml.Node, key_path: KeyPath, depth: int) -> Any:
        line = node.start_mark.line + 1
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge(f"YAML too large (more than {MAX_NODES} nodes)", line)
        if depth > MAX_DEPTH:
            raise _TooLarge(f"YAML nested deeper than {MAX_DEPTH} levels", line)
        if id(node) in self.active:
            raise _TooLarge("YAML alias refers to itself (recursive structure)", line)
        self.document.lines.setdefault(key_path, line)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, key_path)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [
                    self.plain(item, (*key_path, index), depth + 1)
                    for index, item in enumerate(node.value)
                ]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, key_path, depth)
        finally:
            self.active.discard(id(node))
        return None

    def _scalar(self, node: yaml.ScalarNode, key_path: KeyPath) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            self.problems.append(
                Problem(
                    self.path,
                    node.start_mark.line + 1,
                    _dotted(key_path),
                    f"cannot read value: {_one_line(str(exc))}",
                )
            )
            return node.value

    def _mapping(self, node: yaml.MappingNode, key_path: KeyPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(
                    Problem(self.path, key_line, _dotted(key_path), "a key must be plain text")
                )
                continue
            key = str(key_node.value)
            if key in result:
                self.problems.append(
                    Problem(self.path, key_line, _dotted((*key_path, key)), "duplicate key")
                )
                continue
            child_path = (*key_path, key)
            self.document.lines[child_path] = key_line
            result[key] = self.plain(value_node, child_path, depth + 1)
        return result


def _dotted(path: KeyPath) -> str:
    """("stages", 1, "steps", 0, "users") -> "stages[1].steps[0].users"."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


dotted = _dotted
