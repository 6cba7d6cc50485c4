"""The real local testbed for a test module: ``python -m testbed up`` into a fresh state
dir, the :class:`~harness.target.Target` its manifest describes, ``down`` on every path."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.target import Target, Tokens

ROOT = Path(__file__).resolve().parents[1]


def target_of(raw: Mapping[str, Any], manifest: Path) -> Target:
    """The local target a testbed manifest (its JSON, read) describes."""
    services = raw["services"]
    return Target(
        kind="local",
        registry_url=services["registry"]["url"],
        serving_url=services["serving"]["url"],
        orchestrator_url=services["orchestrator"]["url"],
        tokens=Tokens(**raw["tokens"]),
        manifest_path=manifest,
    )


@contextmanager
def launched_testbed(state: Path, *up_args: str) -> Iterator[Target]:
    """Up with ``up_args`` (e.g. ``--replicas 1``); the target; down afterwards."""
    manifest = state / "manifest.json"
    argv = [
        sys.executable, "-m", "testbed", "up", "--manifest", str(manifest),
        "--state-dir", str(state), *up_args,
    ]  # fmt: skip
    up = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    try:
        assert up.returncode == 0, up.stderr[-2000:]
        yield target_of(json.loads(manifest.read_text()), manifest)
    finally:
        down = [sys.executable, "-m", "testbed", "down", "--manifest", str(manifest)]
        subprocess.run(down, cwd=ROOT, capture_output=True, timeout=60)
