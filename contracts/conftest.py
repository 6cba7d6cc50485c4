"""Pact consumer tests: each test declares its interactions on a fresh ``Pact``, runs the
real typed client against the Pact mock server, and (only when its interactions all
matched) merges them into this session's copy of ``<consumer>-<provider>.json``.

At the end of the session each fresh pact replaces the committed one in
``contracts/pacts/`` atomically (``os.replace``), but only when every test of the
modules that write it ran and passed: a failing test, ``-k``, ``-x`` or a single test id
leaves the committed pact untouched instead of shrinking it. Interactions of deleted
tests never linger (the file is written from scratch each session), and the content is
deterministic (no timestamps, interactions sorted by description), so ``git diff`` stays
clean.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from pact import Pact

PACT_DIR = Path(__file__).resolve().parent / "pacts"
# Pacts of platforms other than the testbed live with their platform.
PACT_DIRS = {
    "harness-mlflow-client-mlflow-registry.json": PACT_DIR.parent.parent / "platforms/mlflow/pacts",
}


@dataclass
class _Session:
    fresh_dir: Path | None = None
    modules_by_file: dict[str, set[ModuleType]] = field(default_factory=dict)
    passed: set[tuple[str, str]] = field(default_factory=set)  # (module name, test name)


_SESSION = _Session()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    if report.when == "call" and report.passed and isinstance(item, pytest.Function):
        _SESSION.passed.add((item.module.__name__, item.name))
    return report  # type: ignore[return-value]


def _all_passed(module: ModuleType) -> bool:
    tests = {n for n, f in inspect.getmembers(module, inspect.isfunction) if n.startswith("test_")}
    return all((module.__name__, name) in _SESSION.passed for name in tests)


@pytest.fixture(scope="session")
def fresh_pact_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    fresh = tmp_path_factory.mktemp("pacts")
    _SESSION.fresh_dir = fresh
    yield fresh
    for path in sorted(fresh.glob("*.json")):
        modules = _SESSION.modules_by_file.get(path.name, set())
        destination = PACT_DIRS.get(path.name, PACT_DIR)
        if modules and all(_all_passed(m) for m in modules):
            destination.mkdir(parents=True, exist_ok=True)
            os.replace(path, destination / path.name)
        else:
            warnings.warn(
                f"{destination / path.name} left as committed: not every consumer test "
                "that writes it ran and passed in this session",
                stacklevel=1,
            )


def _pact(request: pytest.FixtureRequest, consumer: str, provider: str) -> Pact:
    name = f"{consumer}-{provider}.json"
    _SESSION.modules_by_file.setdefault(name, set()).add(request.module)
    return Pact(consumer, provider).with_specification("V4")


@pytest.fixture
def registry_pact(request: pytest.FixtureRequest, fresh_pact_dir: Path) -> Pact:
    return _pact(request, "pipeline-orchestrator", "model-registry")


@pytest.fixture
def serving_pact(request: pytest.FixtureRequest, fresh_pact_dir: Path) -> Pact:
    return _pact(request, "inference-gateway", "model-serving")


@pytest.fixture
def mlflow_pact(request: pytest.FixtureRequest, fresh_pact_dir: Path) -> Pact:
    return _pact(request, "harness-mlflow-client", "mlflow-registry")


@contextlib.contextmanager
def mock_provider(pact: Pact) -> Iterator[str]:
    """Serve ``pact``'s interactions; on a clean exit (every interaction matched), merge
    them into this session's fresh pact file."""
    assert _SESSION.fresh_dir is not None, "use the registry_pact / serving_pact fixtures"
    with pact.serve(addr="127.0.0.1") as server:
        yield str(server.url).rstrip("/")
    pact.write_file(_SESSION.fresh_dir, overwrite=False)
