"""The Python API (``harness.run`` / ``harness.run_async``) and the pytest plugin
(``harness_gate``), with the echo stage against a real /health server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import harness
from tests.core.conftest import PROJECT_ROOT, write_suite
from tests.core.echo_stage import register
from tests.core.test_seam import SUITE

PASSING = SUITE.replace("observed: {p95: 120}", "observed: {p95: 90}")


@pytest.fixture
def echo_kind(health_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HARNESS_SERVING_URL", health_url)
    register()
    yield
    harness.stages.unregister_stage("echo")


def test_the_public_names_are_pinned() -> None:
    assert harness.__all__ == [
        "CriterionResult", "InvalidRun", "JudgedStep", "Problem", "RunResult", "Stage",
        "StageVerdict", "Status", "StepBase", "StepContext", "StepOutcome", "Verdict",
        "register_stage", "run", "run_async",
    ]
    for name in harness.__all__:
        assert getattr(harness, name).__name__ == name


def test_importing_harness_imports_no_stage() -> None:
    code = "import sys, harness; print(sorted(m for m in sys.modules if m.startswith('harness')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['harness']"


@pytest.mark.usefixtures("echo_kind")
def test_run_returns_the_verdict_and_writes_the_reports(tmp_path: Path) -> None:
    events: list[harness.events.Event] = []
    result = harness.run(write_suite(tmp_path, SUITE), report_dir=tmp_path / "r",
                         on_event=events.append)
    assert isinstance(result, harness.RunResult)
    assert result.verdict.status is harness.Status.FAIL and result.exit_code == 1
    assert [step.name for _, step in result.verdict.steps if step.status is harness.Status.FAIL] \
        == ["slow"]
    assert json.loads((tmp_path / "r" / "verdict.json").read_text())["status"] == "fail"
    assert (tmp_path / "r" / "events.jsonl").exists() and events


@pytest.mark.usefixtures("echo_kind")
async def test_run_async_and_run_inside_a_running_loop(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, PASSING)
    result = await harness.run_async(suite, report_dir=tmp_path / "a")
    assert result.passed and result.exit_code == 0
    assert harness.run(suite, report_dir=tmp_path / "b").passed  # on a thread of its own


def test_bad_input_raises_invalid_run_with_file_and_line(tmp_path: Path) -> None:
    path = write_suite(tmp_path, "name: x\nstages: []\n")
    with pytest.raises(harness.InvalidRun) as raised:
        harness.run(path)
    assert raised.value.lines[0].startswith(f"{path}:2: stages:")


GATED = """
    import pytest

    from tests.core.echo_stage import register

    register()


    def test_plugin_is_inert_until_a_test_uses_it():  # runs first
        import sys
        assert "harness.api" not in sys.modules


    def test_release_gate_on_a_failing_suite(harness_gate):
        harness_gate({failing!r}, report_dir={report!r})


    @pytest.mark.asyncio
    async def test_release_gate_async_on_a_passing_suite(harness_gate):
        result = await harness_gate.run_async({passing!r}, report_dir={report!r} + "-async")
        assert result.exit_code == 0
"""


def test_the_pytest_plugin_fails_the_test_when_the_verdict_is_fail(
    tmp_path: Path, health_url: str
) -> None:
    failing = write_suite(tmp_path, SUITE, "failing.yaml")
    passing = write_suite(tmp_path, PASSING, "passing.yaml")
    test_file = tmp_path / "test_gate.py"
    test_file.write_text(textwrap.dedent(GATED.format(
        failing=str(failing), passing=str(passing), report=str(tmp_path / "report"))))
    env = {**os.environ, "HARNESS_SERVING_URL": health_url, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(test_file), "-q", "-p", "no:cacheprovider",
         "-o", "asyncio_mode=strict", "--rootdir", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1, done.stdout
    assert "1 failed, 2 passed" in done.stdout, done.stdout
    assert "FAILED test_gate.py::test_release_gate_on_a_failing_suite" in done.stdout
    assert "harness verdict FAIL: 1 of 2 steps failed: slow" in done.stdout
    assert "slow: p95 < 100ms: fail: observed 120.0 ms, threshold 100.0 ms" in done.stdout
