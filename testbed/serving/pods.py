"""Pod records: one small JSON file per serving worker, ``<pods_dir>/<pid>.json``.

Written by the worker (gunicorn ``post_fork`` hook, then again when its model is loaded) and
removed by the master when the worker exits (``child_exit``). ``testbed.manifest.live_pods``
joins them with the master's live children.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from wholefile import write_atomically

POD_NAME_PREFIX = "model-serving"


@dataclass(frozen=True)
class PodRecord:
    pid: int
    ordinal: int
    ready: bool
    booted_at: float
    reason: str = ""
    model_version: str = ""
    """The version of the model the pod serves ("" until one is loaded)."""
    ready_at: float = 0.0
    """Epoch second at which the pod first said it was ready (0: not yet)."""

    @property
    def name(self) -> str:
        return f"{POD_NAME_PREFIX}-{self.ordinal}"


def write_pod_record(pods_dir: Path, record: PodRecord) -> None:
    data = {
        "pid": record.pid,
        "ordinal": record.ordinal,
        "name": record.name,
        "ready": record.ready,
        "booted_at": record.booted_at,
        "reason": record.reason,
        "model_version": record.model_version,
        "ready_at": record.ready_at,
    }
    write_atomically(pods_dir / f"{record.pid}.json", json.dumps(data))


def read_pod_record(pods_dir: Path, pid: int) -> PodRecord | None:
    try:
        data = json.loads((pods_dir / f"{pid}.json").read_text())
        return PodRecord(
            pid=int(data["pid"]),
            ordinal=int(data["ordinal"]),
            ready=bool(data["ready"]),
            booted_at=float(data["booted_at"]),
            reason=str(data.get("reason", "")),
            model_version=str(data.get("model_version", "")),
            ready_at=float(data.get("ready_at", 0.0)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_pod_record(pods_dir: Path, pid: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        (pods_dir / f"{pid}.json").unlink()


def new_pod_record(pid: int, ordinal: int) -> PodRecord:
    return PodRecord(pid=pid, ordinal=ordinal, ready=False, booted_at=time.time())
