"""Static checks of a locustfile: exists, parses, defines the user classes named.

Never imports the file (importing locust would gevent-patch the harness).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class LocustfileFacts:
    path: Path
    classes: dict[str, int] = field(default_factory=dict)  # class name -> line
    problem: str = ""  # one line, empty when the file is usable
    problem_line: int | None = None


def inspect_locustfile(path: Path) -> LocustfileFacts:
    if not path.is_file():
        return LocustfileFacts(path, problem=f"locustfile {path} does not exist")
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return LocustfileFacts(path, problem=f"cannot read locustfile {path}: {exc}")
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        return LocustfileFacts(
            path,
            problem=f"syntax error in locustfile {path}:{exc.lineno}: {exc.msg}",
            problem_line=exc.lineno,
        )
    classes = {
        node.name: node.lineno for node in tree.body if isinstance(node, ast.ClassDef)
    }
    return LocustfileFacts(path, classes=classes)


def unknown_classes(facts: LocustfileFacts, wanted: list[str]) -> list[str]:
    return [name for name in wanted if name not in facts.classes]
