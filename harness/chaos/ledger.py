"""The fault ledger: one JSON file per injected fault, written and fsynced BEFORE the fault
is injected, removed only after a verified revert.

A run that is killed (SIGKILL, power cut) leaves its entries behind; ``recover_all``
(``harness recover`` and the start of every run) reverts them. Entries are written by the
fault driver inside ``chaos run`` and read by the orchestrator: the file is the interface.

Kinds and what reverting means (see :mod:`harness.chaos.recovery`):

- ``freeze``: SIGSTOPped pod pids -> SIGCONT each one that is still the same process.
- ``stress``: CPU burner pids -> kill each one that is still the same process.
- ``serving-fault`` / ``registry-fault``: fault names switched on through ``/admin/faults``
  -> remove them again (HTTP; for serving, the fault-state file as a fallback).
- ``ballast``: a file written to fill disk -> delete it.
- ``pod-kill``: nothing can be undone; the revert checks that the replica count is back.
- ``kube-object``: a Chaos Mesh object (context, namespace, kind, name in ``extra``) ->
  delete it; a 404 counts as done (:mod:`harness.chaos.kube.objects`).
- ``kube-ballast``: a file written into pods with exec -> ``rm`` it in each pod still there.
- ``model-rollout``: a version promoted in the registry, rolled out by serving -> never leave
  serving half-rolled: a finished rollout (every replica on the new version) stays; otherwise
  the previous version is promoted back and every replica is brought onto it
  (:mod:`harness.chaos.driver.rollout`).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.paths import ledger_dir
from wholefile import fsync_directory, write_atomically

LEDGER_SCHEMA = "harness.fault/1"
FaultKind = Literal[
    "freeze",
    "stress",
    "serving-fault",
    "registry-fault",
    "ballast",
    "pod-kill",
    "kube-object",
    "kube-ballast",
    "model-rollout",
]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "freeze",
    "stress",
    "serving-fault",
    "registry-fault",
    "ballast",
    "pod-kill",
    "kube-object",
    "kube-ballast",
    "model-rollout",
)


@dataclass(frozen=True)
class ProcessRef:
    """A process identified by pid AND create time, so a recycled pid is never touched."""

    pid: int
    create_time: float

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "create_time": self.create_time}


@dataclass(frozen=True)
class FaultRecord:
    """One injected fault: enough to revert it from another process, later."""

    id: str
    kind: FaultKind
    target: str
    created_at: float
    run_id: str = ""
    owner_pid: int = 0
    manifest_path: str = ""
    processes: tuple[ProcessRef, ...] = ()
    url: str = ""
    fault_names: tuple[str, ...] = ()
    fault_state_path: str = ""
    file_path: str = ""
    expected_replicas: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": LEDGER_SCHEMA,
            "id": self.id,
            "kind": self.kind,
            "target": self.target,
            "created_at": self.created_at,
            "run_id": self.run_id,
            "owner_pid": self.owner_pid,
            "manifest_path": self.manifest_path,
            "processes": [p.to_json() for p in self.processes],
            "url": self.url,
            "fault_names": list(self.fault_names),
            "fault_state_path": self.fault_state_path,
            "file_path": self.file_path,
            "expected_replicas": self.expected_replicas,
            "extra": dict(self.extra),
        }


class LedgerError(ValueError):
    """A ledger file that cannot be read as a fault record."""


def new_record(
    kind: FaultKind,
    target: str,
    *,
    processes: Sequence[ProcessRef] = (),
    url: str = "",
    fault_names: Sequence[str] = (),
    fault_state_path: str = "",
    file_path: str = "",
    expected_replicas: int = 0,
    manifest_path: str = "",
    extra: Mapping[str, Any] | None = None,
) -> FaultRecord:
    """A record for a fault about to be injected, stamped with this process and run."""
    return FaultRecord(
        id=f"{int(time.time() * 1000)}-{kind}-{uuid.uuid4().hex[:8]}",
        kind=kind,
        target=target,
        created_at=time.time(),
        run_id=os.environ.get("HARNESS_RUN_ID", ""),
        owner_pid=os.getpid(),
        manifest_path=manifest_path or os.environ.get("TESTBED_MANIFEST", ""),
        processes=tuple(processes),
        url=url,
        fault_names=tuple(fault_names),
        fault_state_path=fault_state_path,
        file_path=file_path,
        expected_replicas=expected_replicas,
        extra=dict(extra or {}),
    )


def record_path(record_id: str, directory: Path | None = None) -> Path:
    return (directory or ledger_dir()) / f"{record_id}.json"


def write_record(record: FaultRecord, directory: Path | None = None) -> Path:
    """Write ``record`` durably (temp file, fsync, rename, fsync the directory)."""
    target_dir = directory or ledger_dir()
    path = record_path(record.id, target_dir)
    write_atomically(path, json.dumps(record.to_json(), indent=2) + "\n", durable=True)
    return path


def update_record(record: FaultRecord, directory: Path | None = None) -> Path:
    """Rewrite an entry (e.g. to add the pids of processes started after the first write)."""
    return write_record(record, directory)


def remove_record(record_id: str, directory: Path | None = None) -> bool:
    """Remove an entry after its fault was reverted and verified; False if it was gone."""
    target_dir = directory or ledger_dir()
    try:
        record_path(record_id, target_dir).unlink()
    except FileNotFoundError:
        return False
    fsync_directory(target_dir)
    return True


def record_from_json(data: object, *, source: str = "ledger entry") -> FaultRecord:
    if not isinstance(data, dict) or data.get("schema") != LEDGER_SCHEMA:
        raise LedgerError(f"{source}: not a {LEDGER_SCHEMA} record")
    kind = data.get("kind")
    if kind not in FAULT_KINDS:
        raise LedgerError(f"{source}: unknown fault kind {kind!r}")
    try:
        processes = tuple(
            ProcessRef(pid=int(p["pid"]), create_time=float(p["create_time"]))
            for p in data.get("processes", [])
        )
        return FaultRecord(
            id=str(data["id"]),
            kind=kind,
            target=str(data.get("target", "")),
            created_at=float(data.get("created_at", 0.0)),
            run_id=str(data.get("run_id", "")),
            owner_pid=int(data.get("owner_pid", 0)),
            manifest_path=str(data.get("manifest_path", "")),
            processes=processes,
            url=str(data.get("url", "")),
            fault_names=tuple(str(n) for n in data.get("fault_names", [])),
            fault_state_path=str(data.get("fault_state_path", "")),
            file_path=str(data.get("file_path", "")),
            expected_replicas=int(data.get("expected_replicas", 0)),
            extra=dict(data.get("extra", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LedgerError(f"{source}: malformed record ({exc})") from None


def read_records(directory: Path | None = None) -> list[tuple[Path, FaultRecord | LedgerError]]:
    """Every entry in the ledger, oldest first; unreadable ones as a LedgerError value."""
    target_dir = directory or ledger_dir()
    if not target_dir.is_dir():
        return []
    entries: list[tuple[Path, FaultRecord | LedgerError]] = []
    for path in sorted(target_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            continue  # reverted meanwhile
        except (OSError, json.JSONDecodeError) as exc:
            entries.append((path, LedgerError(f"{path}: unreadable ({exc})")))
            continue
        try:
            entries.append((path, record_from_json(data, source=str(path))))
        except LedgerError as exc:
            entries.append((path, exc))
    return entries
