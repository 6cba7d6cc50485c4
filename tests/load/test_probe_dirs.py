"""The locustfile probe's directory: named for the harness process that made it, so
that the load stage's recover (``harness recover``, the start of every run) removes
the ones of harness processes that were killed while checking a suite, and leaves
live ones and anything else alone."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness.load import inspection
from harness.load.stage import STAGE


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_recover_removes_probe_dirs_of_dead_harness_processes_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead_pid = _dead_pid()
    dead = tmp_path / f"harness-probe-{dead_pid}-abc123"
    live = tmp_path / f"harness-probe-{os.getpid()}-def456"
    other = tmp_path / "harness-probe-notapid"
    for path in (dead, live, other):
        path.mkdir()
        (path / "answers.jsonl").write_text("{}\n")
    lines = STAGE.recover()
    assert lines == [f"locustfile probe directory of dead harness process {dead_pid}: removed"]
    assert not dead.exists()
    assert live.is_dir() and other.is_dir()
    assert STAGE.recover() == []


def test_probe_dir_is_named_for_this_process_and_removed_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with inspection._probe_dir() as cwd:
        assert Path(cwd).parent == tmp_path
        assert Path(cwd).name.startswith(f"harness-probe-{os.getpid()}-")
    assert list(tmp_path.iterdir()) == []
