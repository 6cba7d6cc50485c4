"""JSON files (experiments, pacts) read with the same limits as YAML suites: size,
encoding, nesting depth and duplicate keys, as ``Problem`` values, never raised.

JSON has no aliases, so its node count is bounded by its size. ``json`` gives no line
for a duplicate key; the problem names its key path instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.config.yaml_source import MAX_DEPTH, MAX_FILE_BYTES, KeyPath, dotted
from harness.runner import Problem


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def read_json(path: Path, max_bytes: int = MAX_FILE_BYTES) -> tuple[Any, list[Problem]]:
    """``(data, [])`` or ``(None, problems)`` for the JSON document in ``path``."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        return None, [Problem(path, None, "file", f"cannot read: {exc.strerror or exc}")]
    if len(raw) > max_bytes:
        return None, [Problem(path, None, "file", f"larger than {max_bytes} bytes")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(path, line, "file", f"not UTF-8 text (byte {exc.start})")]
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        return None, [Problem(path, exc.lineno, "json", f"not valid JSON: {exc.msg}")]
    except _DuplicateKey as exc:
        return None, [Problem(path, None, "json", f"duplicate key {exc.key!r}")]
    except RecursionError:
        return None, [Problem(path, None, "json", f"JSON nested deeper than {MAX_DEPTH} levels")]
    too_deep = _deeper_than(data, MAX_DEPTH)
    if too_deep is not None:
        field = dotted(too_deep)
        return None, [Problem(path, None, field, f"JSON nested deeper than {MAX_DEPTH} levels")]
    return data, []


def _deeper_than(data: Any, limit: int) -> KeyPath | None:
    """The key path of the first value nested deeper than ``limit`` (iterative walk)."""
    stack: list[tuple[Any, KeyPath]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > limit:
            return path
        if isinstance(value, dict):
            stack.extend((v, (*path, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(value))
    return None
