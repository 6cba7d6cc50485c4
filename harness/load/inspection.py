"""Checks of a locustfile: exists, parses, defines the user classes named (static),
imports and names real Locust Users (in a child process under a deadline).

Never imports the file here (importing locust would gevent-patch the harness).
"""

from __future__ import annotations

import ast
import functools
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from harness.process import run_blocking


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


IMPORT_DEADLINE_S = 30.0


def probe_locustfile(
    path: Path, wanted: list[str], base_dir: Path, timeout_s: float = IMPORT_DEADLINE_S
) -> tuple[str, int | None] | None:
    """Import the locustfile in a child process under a deadline (locust is never
    imported here) and check that every class in ``wanted`` is a Locust User.
    ``(problem, line in the locustfile)``, or None when it is fine. The answer is
    remembered while the file is unchanged (two steps on one locustfile: one probe)."""
    try:
        info = path.stat()
    except OSError as exc:
        return f"cannot read locustfile {path}: {exc.strerror}", None
    key = (str(path), info.st_mtime_ns, info.st_size, tuple(wanted), str(base_dir))
    return _probe_cached(key, timeout_s)


@functools.lru_cache(maxsize=256)
def _probe_cached(
    key: tuple[str, int, int, tuple[str, ...], str], timeout_s: float
) -> tuple[str, int | None] | None:
    path, wanted, base_dir = Path(key[0]), key[3], Path(key[4])
    project_root = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        dict.fromkeys(filter(None, [str(project_root), str(base_dir), env.get("PYTHONPATH")]))
    )
    with tempfile.TemporaryDirectory(prefix="harness-probe-") as cwd:  # no ./locust.conf
        returncode, out, err = run_blocking(
            [sys.executable, "-m", "harness.load.import_probe", str(path), *wanted],
            cwd=Path(cwd), timeout_s=timeout_s, env=env,
        )  # fmt: skip
    if returncode is None:
        return f"importing locustfile {path} took longer than {timeout_s:g} s", None
    lines = out.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except ValueError:
        answer = {}
    if not isinstance(answer, dict) or ("users" not in answer and "problem" not in answer):
        tail = (err.strip().splitlines() or ["no output"])[-1]
        return f"locustfile {path} could not be inspected (exit {returncode}): {tail}", None
    if "problem" in answer:
        line = answer.get("line")
        return str(answer["problem"]), line if isinstance(line, int) else None
    return None
