"""Run in a child process only (it imports locust, which gevent-patches the process):

    python -m harness.load.import_probe LOCUSTFILE [CLASS ...]
    python -m harness.load.import_probe --batch ANSWERS_FILE '[[LOCUSTFILE, [CLASS, ...]], ...]'

Imports the locustfile as Locust would and prints one JSON object: ``{"problem": "...",
"line": N}`` when it fails to import or a named class is not a Locust User, else
``{"users": [names of the User classes it defines]}``. ``--batch`` probes several
locustfiles in this one process (locust is imported once: that import is most of a
probe's cost) and appends one answer a line to ANSWERS_FILE as each is done, so that the
parent, should its deadline pass, knows which file was still importing. Modules a
locustfile imported from its own folder are forgotten before the next one is imported.
The parent runs it under a deadline (:func:`harness.load.inspection.probe_locustfiles`).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import traceback
from pathlib import Path
from typing import Any


def _import(path: Path) -> Any:
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def _line_in(path: Path, error: BaseException) -> int | None:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename) == path]
    return frames[-1].lineno if frames else None


def probe(path: Path, wanted: list[str]) -> dict[str, Any]:
    from locust import User

    try:
        module = _import(path)
    except BaseException as exc:  # anything a user's module-level code can raise
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return {"problem": f"locustfile {path} fails to import: {message}",
                "line": _line_in(path, exc)}
    users = sorted(
        name for name, value in vars(module).items()
        if inspect.isclass(value) and issubclass(value, User) and not value.abstract
    )
    for name in wanted:
        value = getattr(module, name, None)
        if not (inspect.isclass(value) and issubclass(value, User)):
            kind = type(value).__name__ if not inspect.isclass(value) else "a class"
            return {"problem": f"user_classes: {name} in {path} is {kind}, not a Locust User "
                    f"(Users there: {', '.join(users) or 'none'})", "line": None}
    return {"users": users}


def _forget_modules_of(folder: Path, before: set[str]) -> None:
    """Modules imported since ``before`` from ``folder`` (a locustfile's helpers): the next
    locustfile of the batch must import its own, as it would in a process of its own."""
    for name in set(sys.modules) - before:
        origin = getattr(sys.modules[name], "__file__", None) or ""
        if origin and Path(origin).resolve().is_relative_to(folder):
            del sys.modules[name]


def probe_batch(answers_path: Path, items: list[tuple[str, list[str]]]) -> None:
    import locust  # noqa: F401  (once, before the snapshot of sys.modules)

    with answers_path.open("a", encoding="utf-8") as out:
        for text, wanted in items:
            path = Path(text).resolve()
            before, search_path = set(sys.modules), list(sys.path)
            answer = probe(path, list(wanted))
            _forget_modules_of(path.parent, before)
            sys.path[:] = search_path
            out.write(json.dumps(answer) + "\n")
            out.flush()


def main(argv: list[str]) -> int:
    if argv[:1] == ["--batch"]:
        probe_batch(Path(argv[1]), [(str(p), list(w)) for p, w in json.loads(argv[2])])
        return 0
    print(json.dumps(probe(Path(argv[0]).resolve(), argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
