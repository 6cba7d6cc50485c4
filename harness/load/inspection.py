"""Checks of a locustfile: exists, parses, defines the user classes named (static),
imports and names real Locust Users (in a child process under a deadline).

Never imports the file here (importing locust would gevent-patch the harness).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

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
_CACHE_SIZE = 256

Found = tuple[str, int | None] | None  # (problem, line in the locustfile) or None when fine
_Key = tuple[str, int, int, tuple[str, ...], str]
_answers: dict[_Key, Found] = {}


def _key(path: Path, wanted: Sequence[str], base_dir: Path) -> _Key | str:
    """What an answer is remembered by (the file unchanged), or the problem of reading it."""
    try:
        info = path.stat()
    except OSError as exc:
        return f"cannot read locustfile {path}: {exc.strerror}"
    return (str(path), info.st_mtime_ns, info.st_size, tuple(wanted), str(base_dir))


def probe_locustfile(
    path: Path, wanted: list[str], base_dir: Path, timeout_s: float = IMPORT_DEADLINE_S
) -> Found:
    """Import the locustfile in a child process under a deadline (locust is never
    imported here) and check that every class in ``wanted`` is a Locust User.
    ``(problem, line in the locustfile)``, or None when it is fine. The answer is
    remembered while the file is unchanged (two steps on one locustfile: one probe;
    :func:`probe_locustfiles` answers a suite's locustfiles in one child beforehand)."""
    key = _key(path, wanted, base_dir)
    if isinstance(key, str):
        return key, None
    if key not in _answers:
        probe_locustfiles([(path, wanted)], base_dir, timeout_s)
    return _answers[key]


def probe_locustfiles(
    items: Sequence[tuple[Path, Sequence[str]]], base_dir: Path,
    timeout_s: float = IMPORT_DEADLINE_S,
) -> None:
    """Probe every (locustfile, classes) not answered yet in ONE child process (locust
    is imported once: most of a probe's 1-2 s) and remember the answers. Should the
    child miss the deadline, the answers it gave are kept, the file it was importing
    gets the time-out as its problem, and the rest are probed again without it."""
    keys = dict.fromkeys(_key(p, w, base_dir) for p, w in items)
    todo = [k for k in keys if not isinstance(k, str) and k not in _answers]
    if len(_answers) + len(todo) > _CACHE_SIZE:
        _answers.clear()
    while todo:
        answered = _probe_in_child(todo, timeout_s)
        for key, found in zip(todo, answered, strict=False):
            _answers[key] = found
        if len(answered) < len(todo):  # the deadline passed while importing this one
            _answers[todo[len(answered)]] = (
                f"importing locustfile {todo[len(answered)][0]} took longer than "
                f"{timeout_s:g} s", None,
            )
        todo = todo[len(answered) + 1:]


def _probe_in_child(keys: list[_Key], timeout_s: float) -> list[Found]:
    """The answers, in order, of the files the child finished before the deadline (all of
    them unless it was cut); a child that failed otherwise answers for all it left."""
    base_dir = Path(keys[0][4])
    project_root = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        dict.fromkeys(filter(None, [str(project_root), str(base_dir), env.get("PYTHONPATH")]))
    )
    items = json.dumps([[key[0], list(key[3])] for key in keys])
    with _probe_dir() as cwd:  # no ./locust.conf
        answers_path = Path(cwd) / "answers.jsonl"
        returncode, _, err = run_blocking(
            [sys.executable, "-m", "harness.load.import_probe", "--batch", str(answers_path),
             items],
            cwd=Path(cwd), timeout_s=timeout_s, env=env,
        )  # fmt: skip
        lines = answers_path.read_text().splitlines() if answers_path.exists() else []
    found = [_judged(line) for line in lines[: len(keys)]]
    if returncode is None or len(found) == len(keys):
        return found
    tail = (err.strip().splitlines() or ["no output"])[-1]
    return found + [
        (f"locustfile {key[0]} could not be inspected (exit {returncode}): {tail}", None)
        for key in keys[len(found):]
    ]


PROBE_PREFIX = "harness-probe-"


def _probe_dir() -> tempfile.TemporaryDirectory[str]:
    """The probe child's cwd, in the machine's temp directory (the suite is checked
    before the run has a scratch space of its own), named for this process so that a
    harness killed while probing can be told from one still probing."""
    return tempfile.TemporaryDirectory(prefix=f"{PROBE_PREFIX}{os.getpid()}-")


def reap_dead_probe_dirs(temp_dir: Path | None = None) -> list[str]:
    """Remove the probe directories of harness processes that are gone (SIGKILLed while
    a suite was being checked); one line each."""
    lines = []
    for path in sorted(Path(temp_dir or tempfile.gettempdir()).glob(f"{PROBE_PREFIX}*-*")):
        pid = path.name[len(PROBE_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or psutil.pid_exists(int(pid)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        lines.append(f"locustfile probe directory of dead harness process {pid}: removed")
    return lines


def _judged(line: str) -> Found:
    try:
        answer = json.loads(line)
    except ValueError:
        answer = {}
    if not isinstance(answer, dict) or ("users" not in answer and "problem" not in answer):
        return f"locustfile answer could not be read: {line[:200]}", None
    if "problem" in answer:
        where = answer.get("line")
        return str(answer["problem"]), where if isinstance(where, int) else None
    return None
