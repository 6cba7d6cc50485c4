"""Every path the harness and the testbed write by default is ignored by git (finding 8 of
issue 11): state, ledger, leases, run locks, testbed state, reports, benchmark results."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.live_runs import runs_dir
from harness.paths import ledger_dir, state_dir
from harness.report_dir import IN_PROGRESS_NAME, LOCK_NAME, PREVIOUS_NAME
from harness.targets import leases
from testbed.cli import default_state_dir
from tests.core.conftest import PROJECT_ROOT


def written_paths() -> list[Path]:
    report = PROJECT_ROOT / "reports" / "20261201T000000Z-abcd"
    return [
        ledger_dir() / "1-ballast-x.json",
        leases.leases_dir() / "R.json",
        runs_dir() / "R.lock",
        leases.testbed_state_dir("R") / "tokens.json",
        leases.testbed_state_dir("R") / "manifest.json",
        leases.testbed_state_dir("R") / "registry" / "registry.sqlite3",
        state_dir() / "history.sqlite3",
        default_state_dir() / "tokens.json",
        default_state_dir() / "registry" / "registry.sqlite3",
        report / "verdict.json",
        report / LOCK_NAME,
        report / IN_PROGRESS_NAME,
        report / PREVIOUS_NAME / "junit.xml",
        report / "testbed" / "manifest.json",
        PROJECT_ROOT / "bench" / "results" / "serving.txt",
        PROJECT_ROOT / "chaostoolkit.log",
    ]


def test_every_state_and_report_path_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    for name in ("HARNESS_ROOT", "HARNESS_STATE_DIR", "TESTBED_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    paths = [str(p.relative_to(PROJECT_ROOT)) for p in written_paths()]
    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", "--verbose", "--non-matching", *paths],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30,
    )
    not_ignored = [line.split("\t")[-1] for line in checked.stdout.splitlines()
                   if line.startswith("::")]
    assert checked.stdout and not not_ignored, f"not in .gitignore: {not_ignored}"
