"""Reverting the faults this ``chaos run`` process injected (its own ledger entries)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

from harness.chaos.driver.testbed import FaultError, fault_reverted
from harness.chaos.ledger import FaultKind, FaultRecord, read_records
from harness.chaos.recovery import revert_record


def own_records(kind: FaultKind) -> list[FaultRecord]:
    return [
        entry
        for _, entry in read_records()
        if isinstance(entry, FaultRecord) and entry.kind == kind and entry.owner_pid == os.getpid()
    ]


@contextlib.contextmanager
def sigterm_deferred() -> Iterator[None]:
    """Hold SIGTERM back while a revert runs: chaoslib's SIGTERM handler raises inside
    whatever code is running, and a revert cut halfway leaves the fault on. A SIGTERM
    that arrives meanwhile is delivered (and handled) right after."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def revert_own(
    kind: FaultKind, *, strict: bool = True, replica_wait_s: float | None = None
) -> list[str]:
    """Revert every ``kind`` fault this process injected; one line each.

    With ``strict`` a revert that cannot be verified raises (the activity fails, and the
    entry stays in the ledger for the runner or ``harness recover``).
    """
    lines: list[str] = []
    failures: list[str] = []
    with sigterm_deferred():
        for record in own_records(kind):
            result = revert_record(record, replica_wait_s=replica_wait_s)
            fault_reverted(kind, record.target, result.ok, result.detail, record.id)
            line = f"{kind} {record.target}: {result.detail}"
            lines.append(line)
            if not result.ok:
                failures.append(line)
    if failures and strict:
        raise FaultError("; ".join(failures))
    return lines
