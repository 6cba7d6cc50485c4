"""Fixtures for the chaos tests: a private fault ledger, a real testbed (started once), and
step contexts for the chaos runner."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.chaos.spec import ChaosStep
from harness.events import Event
from harness.runner import StepContext
from harness.stage_stream import StageStream
from harness.target import KubernetesTarget, Target

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def private_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own fault ledger (HARNESS_STATE_DIR)."""
    state = tmp_path / "harness-state"
    monkeypatch.setenv("HARNESS_STATE_DIR", str(state))
    return state


@dataclass
class RunningTestbed:
    manifest_path: Path
    state_dir: Path


def _up(state_dir: Path, *faults: str) -> RunningTestbed:
    manifest = state_dir / "manifest.json"
    argv = [sys.executable, "-m", "testbed", "up", "--manifest", str(manifest)]
    argv += ["--state-dir", str(state_dir)]
    for fault in faults:
        argv += ["--fault", fault]
    subprocess.run(argv, check=True, cwd=PROJECT_ROOT, timeout=90, capture_output=True)
    return RunningTestbed(manifest, state_dir)


def _down(testbed: RunningTestbed) -> None:
    subprocess.run(
        [sys.executable, "-m", "testbed", "down", "--manifest", str(testbed.manifest_path)],
        cwd=PROJECT_ROOT,
        timeout=60,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTestbed]:
    """One healthy testbed for the session's non-destructive chaos tests."""
    running = _up(tmp_path_factory.mktemp("testbed"))
    try:
        yield running
    finally:
        _down(running)


@pytest.fixture
def fragile_testbed(tmp_path: Path) -> Iterator[RunningTestbed]:
    """A testbed whose replacement pods cannot load their model (``--fault fragile``)."""
    running = _up(tmp_path / "fragile", "fragile")
    try:
        yield running
    finally:
        _down(running)


@dataclass
class StepHarness:
    """A chaos step context plus what it emitted."""

    ctx: StepContext
    events: list[Event] = field(default_factory=list)


def make_context(
    tmp_path: Path,
    spec: ChaosStep,
    *,
    manifest_path: Path | None = None,
    kubernetes: KubernetesTarget | None = None,
    deadline_s: float = 120.0,
    dry_run: bool = False,
) -> StepHarness:
    events: list[Event] = []
    target = Target(
        kind="kubernetes" if kubernetes else "local",
        registry_url="",
        serving_url="",
        orchestrator_url="",
        manifest_path=manifest_path,
        kubernetes=kubernetes,
    )
    stream = StageStream(events.append, [spec.name])
    ctx = StepContext(
        run_id="test-run",
        spec=spec,
        target=target,
        artifact_dir=tmp_path / "report" / spec.name,
        work_dir=tmp_path / "work" / spec.name,
        base_dir=PROJECT_ROOT,
        emit=stream.emit,
        stage=stream,
        deadline_s=deadline_s,
        dry_run=dry_run,
    )
    return StepHarness(ctx, events)
