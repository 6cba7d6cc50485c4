"""Project-wide pytest set-up: plugins, and a private history store for every test (so that
test runs never land in the project's own ``.harness/history.sqlite``; a test that wants a
store of its own sets HARNESS_HISTORY_URL itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["tests.postgres", "tests.prometheus_servers"]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _private_history_store(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path_factory.mktemp("history") / "history.sqlite"
    monkeypatch.setenv("HARNESS_HISTORY_URL", f"sqlite:///{store}")


@pytest.fixture(scope="session")
def shared_testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The real testbed (default options), once per session, for the tests that only send it
    traffic (tests/load, the baseline e2e): each switches faults with its admin API and clears
    them. Tests that need a fresh one (counters from zero, a fault at start, other options)
    start their own."""
    state = tmp_path_factory.mktemp("testbed")
    manifest = state / "manifest.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    up = subprocess.run(
        [sys.executable, "-m", "testbed", "up", "--manifest", str(manifest),
         "--state-dir", str(state)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    if up.returncode != 0:
        subprocess.run(
            [sys.executable, "-m", "testbed", "down", "--manifest", str(manifest)],
            cwd=ROOT, env=env, capture_output=True, timeout=60,
        )
        raise RuntimeError(f"testbed up failed: {up.stderr[-2000:]}")
    data = json.loads(manifest.read_text())
    data["manifest_path"] = manifest
    try:
        yield data
    finally:
        subprocess.run(
            [sys.executable, "-m", "testbed", "down", "--manifest", str(manifest)],
            cwd=ROOT, env=env, capture_output=True, timeout=60,
        )
