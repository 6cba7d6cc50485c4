"""Artifact paths as written in reports: relative to the report directory."""

from __future__ import annotations

import os
from pathlib import Path


def relative_artifact(path: Path, report_dir: Path) -> str:
    try:
        return Path(path).resolve().relative_to(report_dir.resolve()).as_posix()
    except ValueError:
        return os.fspath(path)
