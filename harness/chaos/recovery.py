"""Revert faults recorded in the ledger: by the fault driver's own revert actions, by the
runner after a cancelled ``chaos run``, and by ``harness recover`` after a killed run.

Every revert is idempotent and never raises for something already gone (a process that
exited, a testbed that was stopped, a file already deleted). An entry is removed from the
ledger only once its revert is verified; ``recover_all`` reports one line per entry.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import psutil

if TYPE_CHECKING:
    from testbed.manifest import Manifest

from harness.chaos.kube.execs import revert_ballast
from harness.chaos.kube.objects import revert_chaos_object
from harness.chaos.ledger import FaultRecord, LedgerError, ProcessRef, read_records, remove_record
from harness.chaos.local_pods import replicas_back
from harness.live_runs import run_is_live, run_of

HTTP_TIMEOUT_S = 3.0
REPLICA_WAIT_S = 20.0
OWNER_GRACE_S = 10.0


@dataclass(frozen=True)
class Reverted:
    """The result of reverting one ledger entry."""

    ok: bool
    detail: str


def live_process(ref: ProcessRef) -> psutil.Process | None:
    """The process ``ref`` names if it still runs (same create time, not a zombie)."""
    try:
        proc = psutil.Process(ref.pid)
        if abs(proc.create_time() - ref.create_time) > 0.05:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def process_ref(pid: int) -> ProcessRef:
    """A ref for a running pid (raises psutil.NoSuchProcess when it is gone)."""
    return ProcessRef(pid=pid, create_time=psutil.Process(pid).create_time())


def is_stopped(ref: ProcessRef) -> bool:
    proc = live_process(ref)
    if proc is None:
        return False
    try:
        return proc.status() == psutil.STATUS_STOPPED
    except psutil.NoSuchProcess:
        return False


def resume_processes(refs: tuple[ProcessRef, ...]) -> Reverted:
    """SIGCONT every process still alive; verified by its status leaving 'stopped'."""
    resumed, gone = 0, 0
    for ref in refs:
        proc = live_process(ref)
        if proc is None:
            gone += 1
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(ref.pid, signal.SIGCONT)
        resumed += 1
    deadline = time.monotonic() + 2.0
    still = [r for r in refs if is_stopped(r)]
    while still and time.monotonic() < deadline:
        time.sleep(0.02)
        for ref in still:
            with contextlib.suppress(ProcessLookupError):
                os.kill(ref.pid, signal.SIGCONT)
        still = [r for r in still if is_stopped(r)]
    if still:
        return Reverted(False, f"still stopped: {', '.join(str(r.pid) for r in still)}")
    return Reverted(True, f"resumed {resumed} process(es), {gone} already gone")


def kill_processes(refs: tuple[ProcessRef, ...]) -> Reverted:
    """SIGKILL every process still alive; verified by it being gone."""
    killed = 0
    procs = []
    for ref in refs:
        proc = live_process(ref)
        if proc is None:
            continue
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
            killed += 1
            procs.append(proc)
    _, alive = psutil.wait_procs(procs, timeout=3.0)
    alive = [p for p in alive if _alive(p)]
    if alive:
        return Reverted(False, f"still alive: {', '.join(str(p.pid) for p in alive)}")
    return Reverted(True, f"killed {killed} process(es), {len(refs) - killed} already gone")


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _admin_token(record: FaultRecord) -> str | None:
    manifest = _manifest(record)
    return manifest.tokens.admin if manifest is not None else None


def _manifest(record: FaultRecord) -> Manifest | None:
    """The local testbed's manifest of a record (imported here: the testbed is there only
    for local records)."""
    from testbed.manifest import ManifestError, load_manifest

    if not record.manifest_path:
        return None
    try:
        return load_manifest(Path(record.manifest_path))
    except ManifestError:
        return None


def remove_switches(
    url: str, token: str, names: tuple[str, ...], *, spec_body: bool
) -> tuple[bool, str]:
    """Switch ``names`` off on a service's ``/admin/faults`` keeping the others on.

    ``spec_body``: serving speaks spec strings ("latency:dist=fixed,ms=150") plus a rate
    limit; the registry plain names. Returns (verified, detail).
    """
    headers = {"Authorization": f"Bearer {token}"}
    endpoint = url.rstrip("/") + "/admin/faults"
    with httpx.Client(timeout=HTTP_TIMEOUT_S, headers=headers) as client:
        current = client.get(endpoint)
        current.raise_for_status()
        body = current.json()
        keep = [s for s in body.get("faults", []) if s.split(":", 1)[0] not in names]
        if keep == list(body.get("faults", [])):
            return True, "already off"
        if keep:
            put: dict[str, object] = {"faults": keep}
            if spec_body:
                put["rate_limit_rps"] = body.get("rate_limit_rps")
            client.put(endpoint, json=put).raise_for_status()
        else:
            client.delete(endpoint).raise_for_status()
        after = client.get(endpoint).json().get("faults", [])
        left = [s for s in after if s.split(":", 1)[0] in names]
        return (not left), ("switched off" if not left else f"still on: {left}")


def _clear_serving_state_file(record: FaultRecord) -> Reverted:
    from testbed.faults import FaultSpecError, FaultState, read_fault_state, write_fault_state

    path = Path(record.fault_state_path)
    if not record.fault_state_path or not path.exists():
        return Reverted(True, "no fault-state file: nothing switched on")
    try:
        state = read_fault_state(path)
    except FaultSpecError:
        write_fault_state(path, FaultState(set_at=time.time()))
        return Reverted(True, f"unreadable fault-state file {path} reset to no faults")
    keep = tuple(f for f in state.faults if f.name not in record.fault_names)
    if len(keep) != len(state.faults):
        write_fault_state(
            path, FaultState(faults=keep, rate_limit_rps=state.rate_limit_rps, set_at=time.time())
        )
        return Reverted(True, f"switched off in {path}")
    return Reverted(True, "already off")


def revert_serving_fault(record: FaultRecord) -> Reverted:
    token = _admin_token(record)
    if token is not None and record.url:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            ok, detail = remove_switches(record.url, token, record.fault_names, spec_body=True)
            if ok:
                return Reverted(True, detail)
    # The service is down or refuses: edit the shared fault-state file every replica reads.
    return _clear_serving_state_file(record)


def revert_registry_fault(record: FaultRecord) -> Reverted:
    manifest = _manifest(record)
    if manifest is None:
        return Reverted(True, "testbed manifest gone: the registry and its switches went with it")
    registry = manifest.services.registry
    if not _service_alive(registry.pid, registry.create_time):
        return Reverted(True, "registry process gone: its in-memory switches went with it")
    try:
        ok, detail = remove_switches(
            record.url or registry.url, manifest.tokens.admin, record.fault_names, spec_body=False
        )
    except (httpx.HTTPError, ValueError) as exc:
        return Reverted(False, f"registry /admin/faults unreachable: {exc}")
    return Reverted(ok, detail)


def _service_alive(pid: int, create_time: float | None) -> bool:
    try:
        proc = psutil.Process(pid)
        if create_time and abs(proc.create_time() - create_time) > 0.5:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def delete_ballast(record: FaultRecord) -> Reverted:
    path = Path(record.file_path)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    if path.exists():
        return Reverted(False, f"ballast {path} still there")
    return Reverted(True, f"ballast {path} deleted")


def check_replicas(record: FaultRecord, wait_s: float = REPLICA_WAIT_S) -> Reverted:
    """A killed pod cannot be un-killed: check the process manager brought the count back."""
    group = record.extra.get("local_group")
    if isinstance(group, str) and group:  # a pod of a declared local process group
        ok, detail = replicas_back(
            str(record.extra.get("local_processes", "")), group, record.expected_replicas, wait_s
        )
        return Reverted(ok, detail)
    from testbed.manifest import live_pods, serving_master

    manifest = _manifest(record)
    if manifest is None:
        return Reverted(True, "testbed manifest gone: no replicas to check")
    if serving_master(manifest) is None:
        return Reverted(True, "serving master gone (testbed stopped): no replicas to check")
    expected = record.expected_replicas or manifest.services.serving.replicas
    deadline = time.monotonic() + wait_s
    count = len(live_pods(manifest))
    while count < expected and time.monotonic() < deadline:
        time.sleep(0.2)
        count = len(live_pods(manifest))
    if count < expected:
        return Reverted(False, f"replicas {count}/{expected} after {wait_s:.0f}s")
    return Reverted(True, f"replicas {count}/{expected} running")


REVERTERS: dict[str, Callable[[FaultRecord], Reverted]] = {
    "freeze": lambda r: resume_processes(r.processes),
    "stress": lambda r: kill_processes(r.processes),
    "serving-fault": revert_serving_fault,
    "registry-fault": revert_registry_fault,
    "ballast": delete_ballast,
    "pod-kill": check_replicas,
    "kube-object": lambda r: Reverted(*revert_chaos_object(r)),
    "kube-ballast": lambda r: Reverted(*revert_ballast(r)),
    "model-rollout": lambda r: Reverted(*_settle_rollout(r)),
}


def _settle_rollout(record: FaultRecord) -> tuple[bool, str]:
    from harness.chaos.rollouts import settle

    settled = settle(record)
    return settled.ok, settled.detail


def revert_record(
    record: FaultRecord, ledger_dir: Path | None = None, *, replica_wait_s: float | None = None
) -> Reverted:
    """Revert one fault; remove its entry when the revert is verified. Never raises.

    ``replica_wait_s`` bounds the wait for a killed pod's replacement (pod-kill entries)."""
    try:
        if record.kind == "pod-kill" and replica_wait_s is not None:
            result = check_replicas(record, replica_wait_s)
        else:
            result = REVERTERS[record.kind](record)
    except Exception as exc:  # a revert must never take recovery down with it
        result = Reverted(False, f"revert raised {type(exc).__name__}: {exc}")
    if result.ok:
        remove_record(record.id, ledger_dir)
    return result


def _wait_for_owner(record: FaultRecord, grace_s: float) -> None:
    """A ``chaos run`` that is still alive may be running its own rollbacks: give it time."""
    if not record.owner_pid or record.owner_pid == os.getpid():
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            proc = psutil.Process(record.owner_pid)
            if proc.status() == psutil.STATUS_ZOMBIE or proc.create_time() > record.created_at:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.1)


def recover_all(
    ledger_dir: Path | None = None, *, owner_grace_s: float = OWNER_GRACE_S
) -> list[str]:
    """Revert every fault left in the ledger; one line per entry (reverted or not).

    Idempotent: a second call finds nothing. Entries of a live harness run are not
    leftovers and are left alone (:func:`live_faults` lists them). Entries whose owner
    (the ``chaos run`` that injected them) is still alive get ``owner_grace_s`` to be
    rolled back by it first.
    """
    lines: list[str] = []
    for path, entry in read_records(ledger_dir):
        if isinstance(entry, LedgerError):
            lines.append(f"skipped unreadable ledger entry {path.name}: {entry}")
            continue
        if run_is_live(entry.run_id):
            continue  # not a leftover: its run is alive and reverts it (see live_faults)
        _wait_for_owner(entry, owner_grace_s)
        if not path.exists():
            lines.append(f"{entry.kind} {entry.target}: rolled back by its own run")
            continue
        result = revert_record(entry, ledger_dir)
        verb = "reverted" if result.ok else "NOT reverted"
        lines.append(f"{verb} {entry.kind} {entry.target}: {result.detail}")
    return lines


def live_faults(ledger_dir: Path | None = None) -> list[str]:
    """One line per ledger entry of a run that is still alive (left alone by recovery)."""
    return [
        f"left alone {entry.kind} {entry.target}: run {run_of(entry.run_id)} is still live"
        for _, entry in read_records(ledger_dir)
        if isinstance(entry, FaultRecord) and run_is_live(entry.run_id)
    ]
