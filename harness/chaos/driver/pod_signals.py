"""Acting on chosen pods by signal, for every pod driver (testbed serving pods in
:mod:`~harness.chaos.driver.pods`, declared local process groups in
:mod:`~harness.chaos.driver.processes`): the ledger record first, then the signals, then
the fault-injected event. Which pods, and the record's details, are the driver's own."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import psutil

from harness.chaos.driver.testbed import FaultError, fault_injected
from harness.chaos.ledger import FaultRecord, ProcessRef, write_record
from harness.chaos.recovery import is_stopped, live_process

STOP_WAIT_S = 2.0


class SignalledPod(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def pid(self) -> int: ...

    @property
    def ref(self) -> ProcessRef: ...


def inject(
    record: FaultRecord, pods: Sequence[SignalledPod], act: Callable[[], None]
) -> list[dict[str, Any]]:
    """Write ``record`` to the ledger, ``act`` on the pods, say the fault is injected;
    the pods acted on."""
    write_record(record)
    started_at = time.time()  # the signals: when a kill's replacement may start (cold start)
    act()
    fault_injected(record.kind, record.target, record.id, started_at=started_at)
    return [{"name": p.name, "pid": p.pid} for p in pods]


def kill(pods: Sequence[SignalledPod], first: signal.Signals, wait_s: float) -> None:
    """Send ``first`` to every live pod; SIGKILL those still alive after ``wait_s``."""
    for pod in pods:
        if live_process(pod.ref) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pod.pid, first)
    procs = [p for p in (live_process(pod.ref) for pod in pods) if p is not None]
    _, alive = psutil.wait_procs(procs, timeout=wait_s)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


def freeze(pods: Sequence[SignalledPod], names: str) -> None:
    """SIGSTOP every pod and wait until each live one is stopped (FaultError if not)."""
    for pod in pods:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pod.pid, signal.SIGSTOP)
    deadline = time.monotonic() + STOP_WAIT_S
    while not all_stopped(pods) and time.monotonic() < deadline:
        time.sleep(0.01)
    if not all_stopped(pods):
        raise FaultError(f"pods {names} did not stop")


def all_stopped(pods: Sequence[SignalledPod]) -> bool:
    return all(is_stopped(p.ref) for p in pods if live_process(p.ref) is not None)
