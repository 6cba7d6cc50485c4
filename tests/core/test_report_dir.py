"""A report directory belongs to one run: a second run into it is refused at once,
a killed rerun never leaves the earlier run's PASS, a foreign directory is not touched
(findings 1, 2 and 8 of issue 11)."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.report_dir import (
    IN_PROGRESS_NAME,
    PREVIOUS_NAME,
    ReportDirBusy,
    ReportDirError,
    claim_report_dir,
)
from tests.core.conftest import PROJECT_ROOT
from tests.core.test_cli_signals import harness_env, start, suite, wait_for
from tests.core.test_engine import assert_gone, pids_in

HANG = """
      - {{name: hangs, kind: fake, mode: hang, timeout: 60s, pid_file: "{pid_file}",
          criteria: ["rps > 1"]}}
"""
PASS = """
      - {name: fine, kind: fake, metrics: {rps: 5}, criteria: ["rps > 1"]}
"""


def snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``directory`` with its size and mtime (ns)."""
    return {
        str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def events_of(report: Path) -> list[str]:
    lines = (report / "events.jsonl").read_text().splitlines()
    return [json.loads(line)["event"] for line in lines]


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_second_run_into_a_live_report_dir_is_refused_at_once(
    tmp_path: Path, health_url: str
) -> None:
    pid_file = tmp_path / "pids"
    report = tmp_path / "report"
    first = start(["run", str(suite(tmp_path, HANG.format(pid_file=pid_file))),
                   "--report-dir", str(report)], health_url)
    try:
        wait_for(lambda: len(pids_in(pid_file)) == 2, 30)
        before = snapshot(report)
        (tmp_path / "second").mkdir()
        second_suite = suite(tmp_path / "second", PASS)
        began = time.monotonic()
        second = start(["run", str(second_suite), "--report-dir", str(report)], health_url)
        _, err = second.communicate(timeout=30)
        took_s = time.monotonic() - began
        assert second.returncode == 2, err.decode()
        assert "in use by run" in err.decode() and str(report) in err.decode()
        assert b"Traceback" not in err
        assert took_s < 10
        assert snapshot(report) == before  # nothing of the first run touched
        first.send_signal(signal.SIGINT)
        _, first_err = first.communicate(timeout=30)
    finally:
        first.kill()
        kill_all(pids_in(pid_file))
    assert first.returncode == 130, first_err.decode()
    verdict = json.loads((report / "verdict.json").read_text())
    assert verdict["reason"] == "interrupted by SIGINT"
    assert [s["name"] for s in verdict["steps"]] == ["hangs"]
    assert events_of(report).count("RunStarted") == 1
    assert not (report / IN_PROGRESS_NAME).exists()


def test_a_killed_rerun_leaves_no_verdict_of_the_earlier_run(
    tmp_path: Path, health_url: str
) -> None:
    report = tmp_path / "report"
    passing = start(["run", str(suite(tmp_path, PASS)), "--report-dir", str(report)], health_url)
    passing.communicate(timeout=60)
    assert passing.returncode == 0
    old_run = json.loads((report / "verdict.json").read_text())["run_id"]
    pid_file = tmp_path / "pids"
    (tmp_path / "rerun").mkdir()
    rerun = start(["run", str(suite(tmp_path / "rerun", HANG.format(pid_file=pid_file))),
                   "--report-dir", str(report)], health_url)
    try:
        wait_for(lambda: len(pids_in(pid_file)) == 2, 30)
        rerun.send_signal(signal.SIGKILL)
        rerun.communicate(timeout=30)
    finally:
        rerun.kill()
        kill_all(pids_in(pid_file))
    assert_gone(pids_in(pid_file))
    assert not (report / "verdict.json").exists()
    assert not (report / "junit.xml").exists()
    assert not (report / "summary.md").exists()
    in_progress = json.loads((report / IN_PROGRESS_NAME).read_text())
    assert in_progress["run_id"] != old_run and in_progress["pid"] == rerun.pid
    assert events_of(report).count("RunStarted") == 1
    previous = report / PREVIOUS_NAME
    assert json.loads((previous / "verdict.json").read_text())["run_id"] == old_run
    # The next run into the directory works again (the kernel dropped the dead run's lock).
    again = start(["run", str(suite(tmp_path, PASS)), "--report-dir", str(report)], health_url)
    again.communicate(timeout=60)
    assert again.returncode == 0
    assert json.loads((report / "verdict.json").read_text())["status"] == "pass"
    assert json.loads((previous / IN_PROGRESS_NAME).read_text())["pid"] == rerun.pid


def test_a_foreign_directory_is_refused_and_left_untouched(
    tmp_path: Path, health_url: str
) -> None:
    """``--report-dir .`` in a source tree: nothing written into it (finding 8)."""
    tree = tmp_path / "checkout"
    (tree / "testbed").mkdir(parents=True)
    (tree / "testbed" / "__init__.py").write_text("")
    (tree / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    before = snapshot(tree)
    proc = start(["run", str(suite(tmp_path, PASS)), "--report-dir", str(tree)], health_url)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err.decode()
    assert "not empty and not a harness report directory" in err.decode()
    assert snapshot(tree) == before
    assert sorted(p.name for p in tree.iterdir()) == ["pyproject.toml", "testbed"]


def test_claim_is_exclusive_in_one_process_too(tmp_path: Path) -> None:
    with claim_report_dir(tmp_path / "r", "run-a") as claim:
        with (
            pytest.raises(ReportDirBusy, match="in use by run run-a"),
            claim_report_dir(tmp_path / "r", "run-b"),
        ):
            pass
        claim.finish()
    with claim_report_dir(tmp_path / "r", "run-c"):
        pass
    (tmp_path / "file").write_text("x")
    with (
        pytest.raises(ReportDirError, match="not a directory"),
        claim_report_dir(tmp_path / "file", "run-d"),
    ):
        pass


def test_a_full_disk_names_every_report_it_could_not_write(
    tmp_path: Path, health_url: str, postgres_database_url: str
) -> None:
    """Finding 3 (with the seam's verdict-last writer): a file-size limit of 300 bytes
    (RLIMIT_FSIZE, SIGXFSZ ignored) stands in for a full disk: each report is an ERROR
    naming the file and the OS error; no step is blamed, no internal error, no PASS.
    The run history lives in PostgreSQL here (the server writes it, not this process):
    an SQLite store under the same limit stops the run before it starts, as it should."""
    history_url = postgres_database_url.replace("postgresql://", "postgresql+psycopg://", 1)

    def tiny_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300, 300))

    report = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", str(suite(tmp_path, PASS)),
         "--report-dir", str(report)],
        cwd=PROJECT_ROOT,
        env={**harness_env(health_url), "COLUMNS": "1000", "HARNESS_HISTORY_URL": history_url},
        preexec_fn=tiny_disk,
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    for name in ("junit.xml", "verdict.json"):  # summary.md may fit in 300 bytes
        assert f"cannot write {report / name}: File too large" in proc.stdout, proc.stdout
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert f"harness: cannot write {report / 'events.jsonl'}: File too large" in proc.stderr
    assert "the run itself: pass" in proc.stdout  # the step is not blamed
    assert not (report / "verdict.json").exists()


def test_a_read_only_report_dir_stops_the_run_before_it_starts(
    tmp_path: Path, health_url: str
) -> None:
    """Finding 3: a read-only report directory (a read-only bind mount in a private mount
    namespace: root ignores file modes) is exit 2 naming it, before anything starts."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed")
    report = tmp_path / "report"
    report.mkdir()
    argv = [sys.executable, "-m", "harness", "run", str(suite(tmp_path, PASS)),
            "--report-dir", str(report)]
    script = (f"mount --bind {report} {report} && mount -o remount,bind,ro {report} && "
              f"exec {shlex.join(argv)}")
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          cwd=PROJECT_ROOT, env=harness_env(health_url),
                          capture_output=True, text=True, timeout=120)
    if "mount:" in proc.stderr or "unshare:" in proc.stderr:
        pytest.skip(f"no private read-only mount here: {proc.stderr.strip()}")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == f"harness: cannot write {report}: Read-only file system"
    assert list(report.iterdir()) == []
