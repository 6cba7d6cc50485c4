"""Disk pressure on the registry's storage: a bounded ballast file in the registry's state
directory (where its SQLite database lives).

What it does: takes real space (written and fsynced, not sparse) on the filesystem that
holds the registry's database, so free space drops by ``size_mb`` and the
``disk_free_mb`` probe observes it. What it does NOT do: make writes fail. Unless the disk
was already nearly full, the registry keeps writing; ENOSPC, a full volume or slow I/O are
not simulated (that needs a small dedicated filesystem, or Chaos Mesh ``IOChaos`` on
Kubernetes). It refuses to leave less than ``keep_free_mb`` free.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness.chaos.driver.own import revert_own
from harness.chaos.driver.testbed import (
    FaultError,
    current_manifest,
    fault_injected,
    manifest_path,
)
from harness.chaos.ledger import new_record, write_record

MAX_BALLAST_MB = 1024
CHUNK = 1 << 20


def registry_storage_dir() -> Path:
    manifest = current_manifest()
    registry_dir = Path(manifest.state_dir) / "registry"
    return registry_dir if registry_dir.is_dir() else Path(manifest.state_dir)


def fill_disk(size_mb: int = 64, keep_free_mb: int = 512) -> dict[str, float]:
    """Write a ``size_mb`` ballast file beside the registry database; reverted by
    :func:`free_disk`. Returns free space before and after, in MB."""
    if not 1 <= size_mb <= MAX_BALLAST_MB:
        raise FaultError(f"size_mb={size_mb} must lie in [1, {MAX_BALLAST_MB}]")
    directory = registry_storage_dir()
    free_before_mb = shutil.disk_usage(directory).free / CHUNK
    if free_before_mb - size_mb < keep_free_mb:
        raise FaultError(
            f"only {free_before_mb:.0f} MB free in {directory}: a {size_mb} MB ballast would "
            f"leave less than {keep_free_mb} MB; refused"
        )
    path = directory / f".chaos-ballast-{os.getpid()}.bin"
    record = new_record(
        "ballast", str(path), file_path=str(path), manifest_path=str(manifest_path())
    )
    write_record(record)
    block = b"\xa5" * CHUNK
    with path.open("wb") as ballast:
        for _ in range(size_mb):
            ballast.write(block)
        ballast.flush()
        os.fsync(ballast.fileno())
    free_after_mb = shutil.disk_usage(directory).free / CHUNK
    fault_injected("disk-pressure", str(path), record.id)
    return {"free_before_mb": round(free_before_mb, 1), "free_after_mb": round(free_after_mb, 1)}


def free_disk() -> list[str]:
    """Delete the ballast this run wrote (idempotent)."""
    return revert_own("ballast")
