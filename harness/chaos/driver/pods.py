"""Pod faults: terminate (a deleted pod; the process manager replaces it) and freeze
(SIGSTOP every selected pod: the service is there but answers nothing) / resume (SIGCONT)."""

from __future__ import annotations

import signal
from typing import Any

from harness.chaos.driver import pod_signals
from harness.chaos.driver.answers import wait_until_watching
from harness.chaos.driver.own import revert_own
from harness.chaos.driver.testbed import current_manifest, manifest_path, select_pods
from harness.chaos.ledger import new_record


def terminate_pods(
    label_selector: str | None = None,
    name_pattern: str | None = None,
    all: bool = False,
    rand: bool = False,
    mode: str = "fixed",
    qty: int = 1,
    grace_period: int = -1,
    ns: str = "default",
    order: str = "alphabetic",
) -> list[dict[str, Any]]:
    """Kill serving pods like ``chaosk8s.pod.actions.terminate_pods`` deletes them.

    ``grace_period < 0``: SIGTERM (the pod's own graceful shutdown); ``>= 0``: SIGTERM, then
    SIGKILL after that many seconds (0: SIGKILL at once). Returns the killed pods.
    """
    wait_until_watching()  # a background answer watcher sees the kill (cold_start_s)
    manifest = current_manifest()
    pods = select_pods(manifest, label_selector, name_pattern, all, rand, mode, qty, ns, order)
    names = ",".join(p.name for p in pods)
    record = new_record(
        "pod-kill",
        names,
        processes=[p.ref for p in pods],
        expected_replicas=manifest.services.serving.replicas,
        manifest_path=str(manifest_path()),
    )
    first = signal.SIGKILL if grace_period == 0 else signal.SIGTERM
    wait_s = grace_period if grace_period > 0 else 10.0
    return pod_signals.inject(record, pods, lambda: pod_signals.kill(pods, first, wait_s))


def freeze_pods(
    label_selector: str | None = None,
    name_pattern: str | None = None,
    all: bool = False,
    rand: bool = False,
    mode: str = "fixed",
    qty: int = 1,
    ns: str = "default",
    order: str = "alphabetic",
) -> list[dict[str, Any]]:
    """SIGSTOP the selected pods (a local stand-in for Chaos Mesh ``pod-failure``/freeze).

    Keep the freeze shorter than gunicorn's worker timeout (30 s), or the master replaces
    the frozen workers itself. Reverted by :func:`resume_pods` (and ``harness recover``).
    """
    manifest = current_manifest()
    pods = select_pods(manifest, label_selector, name_pattern, all, rand, mode, qty, ns, order)
    names = ",".join(p.name for p in pods)
    record = new_record(
        "freeze", names, processes=[p.ref for p in pods], manifest_path=str(manifest_path())
    )
    return pod_signals.inject(record, pods, lambda: pod_signals.freeze(pods, names))


def resume_pods(label_selector: str | None = None, ns: str = "default") -> list[str]:
    """SIGCONT every pod this run froze (idempotent: nothing frozen, nothing to do)."""
    return revert_own("freeze")


def verify_replicas(within_s: float = 10.0) -> list[str]:
    """Check that the pods this run killed were replaced (the revert of a pod kill).

    Never fails the activity for a replica that did not come back: that is the system's
    failure, judged by the steady-state probe ``replicas_restored``; the ledger entry stays
    and the runner reports it. Waits up to ``within_s`` per kill.
    """
    return revert_own("pod-kill", strict=False, replica_wait_s=within_s)
