"""Where the harness keeps things on disk."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The directory suites and relative paths are resolved against: $HARNESS_ROOT,
    else the current directory."""
    return Path(os.environ.get("HARNESS_ROOT") or Path.cwd()).resolve()


def state_dir() -> Path:
    """Harness state that outlives a run (the fault ledger): $HARNESS_STATE_DIR,
    else ``<project root>/.harness``."""
    configured = os.environ.get("HARNESS_STATE_DIR")
    return Path(configured).resolve() if configured else project_root() / ".harness"


def ledger_dir() -> Path:
    """The fault ledger: one JSON file per injected fault, written before injection."""
    return state_dir() / "ledger"
