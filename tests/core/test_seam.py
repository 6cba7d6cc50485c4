"""The stage seam: a kind added from outside the package with one registration runs end
to end through the CLI; the core names no stage."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import stages
from tests.core.conftest import PROJECT_ROOT, write_suite

SUITE = """
name: echo-suite
target: {kind: external}
stages:
  - name: only
    steps:
      - {name: fast, kind: echo, observed: {p95: 80}, criteria: ["p95 < 100ms"]}
      - {name: slow, kind: echo, observed: {p95: 120}, criteria: ["p95 < 100ms"]}
"""


def harness(args: list[str], serving_url: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        HARNESS_PLUGINS="tests.core.echo_stage:register",
        HARNESS_SERVING_URL=serving_url,
        PYTHONPATH=str(PROJECT_ROOT),
        COLUMNS="120",
    )
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_a_kind_from_outside_the_package_runs_end_to_end(tmp_path: Path, health_url: str) -> None:
    path = write_suite(tmp_path, SUITE)
    validated = harness(["validate", str(path)], health_url)
    assert validated.returncode == 0, validated.stderr
    assert "(echo)" in validated.stdout
    report = tmp_path / "report"
    result = harness(["run", str(path), "--report-dir", str(report)], health_url)
    assert result.returncode == 1, result.stderr
    verdict = json.loads((report / "verdict.json").read_text())
    assert verdict["status"] == "fail"
    assert [(s["name"], s["kind"], s["status"]) for s in verdict["steps"]] == [
        ("fast", "echo", "pass"), ("slow", "echo", "fail")]
    assert verdict["steps"][1]["criteria"][0]["observed"] == 120


def test_its_check_runs_under_validate(tmp_path: Path, health_url: str) -> None:
    path = write_suite(tmp_path, SUITE.replace('criteria: ["p95 < 100ms"]}\n      - {name: slow',
                                               'criteria: ["p99 < 100ms"]}\n      - {name: slow'))
    result = harness(["validate", str(path)], health_url)
    assert result.returncode == 2
    assert f"{path}:7: stages[0].steps[0].criteria[0]: p99 is not in observed" in result.stderr


def test_a_built_in_kind_cannot_be_replaced() -> None:
    from tests.core.echo_stage import EchoStage

    stage = EchoStage()
    stage.kind = "load"  # type: ignore[misc]
    with pytest.raises(ValueError, match="built in"):
        stages.register_stage(stage)


CORE = ["engine.py", "cli.py", "recovery.py", "verdict.py", "config/loader.py",
        "reporters/console.py", "reporters/__init__.py", "runner.py", "stage_stream.py"]


@pytest.mark.parametrize("name", CORE)
def test_the_core_names_no_stage(name: str) -> None:
    tree = ast.parse((PROJECT_ROOT / "harness" / name).read_text())
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
         for alias in node.names]
    stage_packages = (
        "harness.load", "harness.contract", "harness.chaos", "harness.openapi", "testbed"
    )
    assert not [m for m in imported if m.startswith(stage_packages)]
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert not strings & {"load", "contract", "chaos", "api"}


def test_the_built_in_stages_are_one_explicit_list() -> None:
    assert [stage.kind for stage in stages.BUILTIN] == ["load", "contract", "chaos", "api"]
    source = (PROJECT_ROOT / "harness" / "stages.py").read_text()
    assert "import_module(builtin" not in source and "_BUILTIN" not in source


def test_a_report_that_cannot_be_written_is_an_error_not_a_silent_pass(
    tmp_path: Path, health_url: str
) -> None:
    # A report dir's earlier content is moved aside at start (harness.report_dir): the
    # obstacle appears while the run is going (a fake step sleeps meanwhile).
    path = write_suite(tmp_path, SUITE.replace("observed: {p95: 120}", "observed: {p95: 90}")
                       + "      - {name: wait, kind: fake, sleep: 3, metrics: {rps: 5},"
                         " criteria: ['rps > 1']}\n")
    report = tmp_path / "report"
    env = dict(os.environ, HARNESS_PLUGINS="tests.core.echo_stage:register,"
               "tests.core.fake_stage:register", HARNESS_SERVING_URL=health_url,
               PYTHONPATH=str(PROJECT_ROOT), COLUMNS="120")
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", str(path), "--report-dir",
                             str(report)], cwd=PROJECT_ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (report / "in-progress.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    (report / "junit.xml").mkdir()
    out, err = proc.communicate(timeout=120)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"cannot write {report / 'junit.xml'}: Is a directory" in result.stdout
    assert "internal error" not in result.stderr
    verdict = json.loads((report / "verdict.json").read_text())
    assert verdict["status"] == "error"
    assert {s["status"] for s in verdict["steps"]} == {"pass"}  # no step is blamed


def test_a_report_dir_that_cannot_be_made_stops_the_run_before_it_starts(
    tmp_path: Path, health_url: str
) -> None:
    path = write_suite(tmp_path, SUITE)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = harness(["run", str(path), "--report-dir", str(blocker / "report")], health_url)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"harness: cannot write {blocker / 'report'}: Not a directory")


def test_the_core_imports_the_testbed_only_where_it_acts_on_one() -> None:
    """Module-level imports of ``testbed``: only in the local chaos driver (it runs inside
    ``chaos run`` against a local testbed); elsewhere lazily, on local-testbed paths."""
    found = []
    for path in sorted((PROJECT_ROOT / "harness").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only; `if TYPE_CHECKING:` blocks are skipped
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if any(name.split(".")[0] == "testbed" for name in names):
                found.append(path.relative_to(PROJECT_ROOT).as_posix())
    assert found and all(f.startswith("harness/chaos/driver/") for f in found), found
