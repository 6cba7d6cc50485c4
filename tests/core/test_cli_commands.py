"""``harness validate`` and ``harness recover`` as subprocesses; the internal-error guard."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.core.conftest import PROJECT_ROOT, write_suite
from tests.core.test_cli_signals import harness_env


def harness(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    full_env = harness_env("http://127.0.0.1:9")
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=PROJECT_ROOT,
                          env=full_env, capture_output=True, text=True, timeout=60)


def test_validate_project_suite_and_typos(tmp_path: Path) -> None:
    ok = harness(["validate", "suites/smoke.yaml"])
    assert ok.returncode == 0, ok.stderr
    assert "suite 'smoke' is valid: 3 stage(s), 5 step(s)" in ok.stdout
    bad = write_suite(tmp_path, (PROJECT_ROOT / "suites" / "smoke.yaml").read_text()
                      .replace("duration: 20s", "duraton: 20s")
                      .replace('- "error_rate < 1%"', '- "error_rate < 1.5"')
                      .replace("experiment: chaos/pod-kill.yaml", "experiment: chaos/nope.yaml"))
    result = harness(["validate", str(bad)])
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    text = bad.read_text().splitlines()

    def line_of(fragment: str) -> int:  # the suite grows: find the line, do not count it
        return next(i for i, line in enumerate(text, 1) if fragment in line)

    assert lines[0].startswith(f"{bad}:{line_of('duraton: 20s')}: stages[1].steps[0].duraton: "
                               "unknown key 'duraton' (did you mean 'duration'?)")
    assert lines[1].startswith(f"{bad}:{line_of('error_rate < 1.5')}: "
                               "stages[1].steps[0].criteria[1]: error_rate: a rate "
                               "must lie between 0% and 100%")
    assert lines[2].startswith(f"{bad}:{line_of('chaos/nope.yaml')}: "
                               "stages[2].steps[1].experiment:")
    assert lines[-1] == "harness: 3 problem(s) found"
    assert "Traceback" not in result.stderr


def test_recover_with_an_empty_ledger(tmp_path: Path) -> None:
    machine_tmp = tmp_path / "tmp"  # recover also looks there (locustfile probe dirs)
    machine_tmp.mkdir()
    result = harness(["recover"], HARNESS_STATE_DIR=str(tmp_path), TMPDIR=str(machine_tmp))
    assert result.returncode == 0, result.stderr
    assert "nothing to recover" in result.stdout


def test_internal_errors_are_exit_2_with_traceback_only_under_debug(tmp_path: Path) -> None:
    path = write_suite(tmp_path, """
name: x
stages: [{name: s, steps: [{name: a, kind: broken}]}]
""")
    plugin = {"HARNESS_PLUGINS": "tests.core.broken_plugin:register"}
    quiet = harness(["validate", str(path)], **plugin)
    assert quiet.returncode == 2
    assert "internal error: RuntimeError: plug-in bug" in quiet.stderr
    assert "Traceback" not in quiet.stderr
    for args in (["validate", "--debug", str(path)], ["--debug", "validate", str(path)]):
        loud = harness(args, **plugin)
        assert loud.returncode == 2 and "Traceback" in loud.stderr


def test_bad_plugin_is_reported_not_raised() -> None:
    result = harness(["validate", "suites/smoke.yaml"], HARNESS_PLUGINS="no.such.module:x")
    assert result.returncode == 2
    assert "plug-in 'no.such.module:x' failed to load" in result.stderr


def test_dry_run_reaches_the_steps_and_fault_needs_local(tmp_path: Path, health_url: str) -> None:
    path = write_suite(tmp_path, """
name: x
target: {kind: external}
stages: [{name: s, steps: [{name: a, kind: fake, metrics: {rps: 5}, criteria: ["rps > 1"]}]}]
""")
    report = tmp_path / "report"
    env = {"HARNESS_SERVING_URL": health_url}
    result = harness(["run", str(path), "--dry-run", "--report-dir", str(report)], **env)
    assert result.returncode == 0, result.stderr
    assert "(dry run)" in (report / "verdict.json").read_text()
    refused = harness(["run", str(path), "--fault", "latency:ms=10"], **env)
    assert refused.returncode == 2
    assert "--fault applies to the local testbed only" in refused.stderr
