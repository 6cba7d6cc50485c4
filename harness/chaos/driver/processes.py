"""Faults on "pods" of any local service: the process groups the suite declares in
``target.local_processes`` (see :mod:`harness.chaos.local_pods`), and nothing else.

Actions: :func:`kill_process_pods` (a deleted pod: its master must replace it),
:func:`freeze_process_pods` / :func:`resume_process_pods` (SIGSTOP / SIGCONT),
:func:`stress_cpu_beside` / :func:`delete_stressor` (CPU burners pinned beside the pods);
rollback :func:`verify_process_pods`; probes :func:`process_pods_running`,
:func:`service_status`. Same rules as the testbed driver: an undeclared group or a pid
outside the group's selection is refused, every fault goes to the ledger first, and
``harness recover`` reverts what a killed run left.
"""

from __future__ import annotations

import contextlib
import random
import signal
import time
from typing import Any

import httpx
import psutil

from harness.chaos.driver import pod_signals
from harness.chaos.driver.own import revert_own
from harness.chaos.driver.stress import check_burners, start_burners
from harness.chaos.driver.testbed import FaultError
from harness.chaos.ledger import new_record
from harness.chaos.local_pods import (
    LocalPod,
    LocalPodsError,
    current_local_processes,
    live_pods,
    within_selection,
)

HTTP_TIMEOUT_S = 2.0


def _pick(
    group: str, qty: int, rand: bool, all: bool, pids: list[int] | None
) -> tuple[list[LocalPod], int, str]:
    """(chosen pods, pods found, declarations file). Refuses (FaultError) an undeclared
    group, a pid outside the selection, and an empty pick."""
    try:
        return _select(group, qty, rand, all, pids)
    except LocalPodsError as exc:
        raise FaultError(str(exc)) from None


def _select(
    group: str, qty: int, rand: bool, all: bool, pids: list[int] | None
) -> tuple[list[LocalPod], int, str]:
    declared, path = current_local_processes()
    spec = declared.group(group)
    pods = live_pods(spec)
    if pids:
        chosen = within_selection(pods, [int(p) for p in pids])
    elif not pods:
        raise FaultError(f"group {group!r} ({spec.describe()}) has no live pod: nothing injected")
    elif all:
        chosen = pods
    else:
        count = min(max(qty, 0), len(pods))
        if count == 0:
            raise FaultError(f"qty={qty} selects no pod: nothing injected")
        chosen = random.sample(pods, count) if rand else pods[:count]
    return chosen, len(pods), str(path)


def kill_process_pods(
    group: str,
    qty: int = 1,
    rand: bool = False,
    grace_period: int = 0,
    pids: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Kill ``qty`` pods of ``group`` (``grace_period`` 0: SIGKILL; > 0: SIGTERM, then
    SIGKILL after that many seconds). Returns the killed pods."""
    pods, found, path = _pick(group, qty, rand, False, pids)
    spec = current_local_processes()[0].group(group)
    names = ",".join(p.name for p in pods)
    record = new_record(
        "pod-kill",
        names,
        processes=[p.ref for p in pods],
        expected_replicas=spec.replicas or found,
        extra={"local_group": group, "local_processes": path},
    )
    first = signal.SIGKILL if grace_period <= 0 else signal.SIGTERM
    wait_s = max(grace_period, 0) or 5.0
    return pod_signals.inject(record, pods, lambda: pod_signals.kill(pods, first, wait_s))


def freeze_process_pods(
    group: str,
    qty: int = 1,
    all: bool = False,
    rand: bool = False,
    pids: list[int] | None = None,
) -> list[dict[str, Any]]:
    """SIGSTOP pods of ``group``; reverted by :func:`resume_process_pods` (and recover)."""
    pods, _, _ = _pick(group, qty, rand, all, pids)
    names = ",".join(p.name for p in pods)
    record = new_record("freeze", names, processes=[p.ref for p in pods])
    return pod_signals.inject(record, pods, lambda: pod_signals.freeze(pods, names))


def resume_process_pods(group: str = "") -> list[str]:
    """SIGCONT every pod this run froze (idempotent)."""
    return revert_own("freeze")


def stress_cpu_beside(
    group: str, workers: int = 1, load: int = 100, duration: str = "30s"
) -> list[int]:
    """CPU burners pinned to the CPUs the group's pods may run on, for ``duration``."""
    duration_s = check_burners(duration, workers, load)
    pods, _, _ = _pick(group, 1, False, True, None)
    cpus: set[int] = set()
    for pod in pods:
        with contextlib.suppress(psutil.NoSuchProcess):
            cpus.update(psutil.Process(pod.pid).cpu_affinity() or [])
    record = new_record(
        "stress",
        f"{group}: {workers} burner(s) at {load}% beside {','.join(p.name for p in pods)}",
        extra={"duration_s": duration_s, "cpus": sorted(cpus)},
    )
    return start_burners(record, workers, load, duration_s, cpus)


def delete_stressor(group: str = "") -> list[str]:
    """Stop the burners this run started (idempotent)."""
    return revert_own("stress")


def verify_process_pods(within_s: float = 10.0) -> list[str]:
    """The revert of a pod kill: check the killed pods were replaced (never fails the
    activity; the probe :func:`process_pods_running` judges it)."""
    return revert_own("pod-kill", strict=False, replica_wait_s=within_s)


def process_pods_running(group: str, within_s: float = 0.0) -> bool:
    """As many live pods in ``group`` as declared (``replicas``), or at least one."""
    declared, _ = current_local_processes()
    spec = declared.group(group)
    deadline = time.monotonic() + max(within_s, 0.0)
    while True:
        if len(live_pods(spec)) >= max(spec.replicas, 1):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)


def service_status(service: str, path: str = "/health", within_s: float = 0.0) -> int:
    """HTTP status of ``GET <service URL><path>`` (0: no answer); waits for a 2xx."""
    declared, _ = current_local_processes()
    base = declared.services.get(service)
    if base is None:
        raise FaultError(f"service {service!r} is not a service of the target")
    url = base.rstrip("/") + path
    deadline = time.monotonic() + max(within_s, 0.0)
    while True:
        try:
            status = httpx.get(url, timeout=HTTP_TIMEOUT_S).status_code
        except httpx.HTTPError:
            status = 0
        if 200 <= status < 300 or time.monotonic() >= deadline:
            return status
        time.sleep(0.25)
