"""Pod faults that verify themselves (activities for ``chaos run``).

- :func:`kill_pods`: deletes serving pods (Running, Ready, not already Terminating: on a
  real cluster a Terminating pod stays listed for its grace period, and chaosk8s's
  ``terminate_pods`` may pick it again, killing nothing) and checks each one is gone or
  Terminating, by UID.
- :func:`fill_volume` / :func:`free_volume`: a ballast file written with exec into the named
  container of every selected pod (chaosk8s ``exec_in_pods`` without ``container_name``
  skips every pod, and never fails on a non-zero exit). The exec output is checked: the
  file's size for the fill, its absence for the free. The ballast is in the ledger
  (``kube-ballast``) before it is written, so ``harness recover`` can delete it.

Runs inside ``chaos run`` only.
"""

from __future__ import annotations

import os
import random
import shlex
from typing import Any

from chaoslib.exceptions import ActivityFailed
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from harness.chaos.driver.own import sigterm_deferred
from harness.chaos.driver.testbed import fault_injected, fault_reverted
from harness.chaos.kube.cluster import api_client, current_context, list_pods, source_kubeconfig
from harness.chaos.kube.execs import (
    BALLAST_KIND,
    Ballast,
    ballast_record,
    exec_in,
    remove_ballast,
)
from harness.chaos.ledger import FaultRecord, read_records, remove_record, write_record


def kill_pods(
    label_selector: str,
    ns: str = "default",
    qty: int = 1,
    all: bool = False,
    rand: bool = True,
    grace_period: int = -1,
) -> dict[str, Any]:
    """Delete ``qty`` (or ``all``) serving pods; fail unless each is then gone or
    Terminating (checked by UID)."""
    serving = [p for p in list_pods(ns, label_selector) if p.serving]
    if not serving:
        raise ActivityFailed(f"no serving pod matches {label_selector!r} in {ns!r}")
    count = len(serving) if all else min(int(qty), len(serving))
    ordered = sorted(serving, key=lambda p: p.name)
    chosen = random.sample(serving, count) if rand else ordered[:count]
    v1 = client.CoreV1Api(api_client())
    grace = client.V1DeleteOptions(grace_period_seconds=grace_period)
    for pod in chosen:
        try:
            v1.delete_namespaced_pod(pod.name, ns, body=grace if grace_period >= 0 else None)
        except ApiException as exc:
            if exc.status != 404:
                raise ActivityFailed(
                    f"deleting pod {pod.name} failed: {exc.status} {exc.reason}"
                ) from None
    alive = [p.name for p in chosen if _still_serving(v1, ns, p.name, p.uid)]
    if alive:
        raise ActivityFailed(f"pods still serving after delete: {alive}: nothing was killed")
    names = [p.name for p in chosen]
    fault_injected("pod-kill", ", ".join(names), "")
    return {"killed": [{"name": p.name, "uid": p.uid} for p in chosen]}


def _still_serving(v1: Any, ns: str, name: str, uid: str) -> bool:
    try:
        pod = v1.read_namespaced_pod(name, ns)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise ActivityFailed(f"reading pod {name} failed: {exc.status} {exc.reason}") from None
    return bool(pod.metadata.uid == uid and pod.metadata.deletion_timestamp is None)


def fill_volume(
    label_selector: str,
    container_name: str,
    path: str,
    size_mb: int = 64,
    ns: str = "default",
) -> dict[str, Any]:
    """Write a ``size_mb`` ballast at ``path`` in ``container_name`` of every serving pod;
    fail unless every pod reports the file at its full size."""
    selected = list_pods(ns, label_selector)
    pods = [p for p in selected if p.serving and container_name in p.containers]
    if not pods:
        raise ActivityFailed(
            f"no serving pod matches {label_selector!r} with a container {container_name!r}"
        )
    ballast = Ballast(
        current_context(),
        ns,
        container_name,
        path,
        tuple(p.name for p in pods),
        source_kubeconfig(),
    )
    record = ballast_record(ballast)
    write_record(record)
    size = int(size_mb) * 1024 * 1024
    quoted = shlex.quote(path)
    write = f"dd if=/dev/zero of={quoted} bs=1M count={int(size_mb)} conv=fsync 2>/dev/null"
    script = f"{write} && stat -c %s {quoted}"
    failures = []
    for pod in pods:
        rc, out, err = exec_in(api_client(), ns, pod.name, container_name, ["sh", "-c", script])
        if rc != 0 or out.strip() != str(size):
            failures.append(f"{pod.name}: exit {rc}, stdout {out.strip()!r} {err.strip()[:100]}")
    if failures:
        raise ActivityFailed(f"ballast not written: {'; '.join(failures)}")
    fault_injected("kube-ballast", f"{path} in {len(pods)} pod(s)", record.id)
    return {"path": path, "bytes": size, "pods": [p.name for p in pods]}


def free_volume(
    label_selector: str, container_name: str, path: str, ns: str = "default"
) -> list[str]:
    """Delete the ballast this run wrote (rollback); verified by exec. Idempotent."""
    lines: list[str] = []
    with sigterm_deferred():
        for _, entry in read_records():
            if not (isinstance(entry, FaultRecord) and entry.kind == BALLAST_KIND):
                continue
            if entry.owner_pid != os.getpid() or entry.extra.get("path") != path:
                continue
            ok, detail = remove_ballast(api_client(), entry)
            fault_reverted("kube-ballast", path, ok, detail, entry.id)
            if not ok:
                raise ActivityFailed(f"ballast {path} not deleted: {detail}")
            remove_record(entry.id)
            lines.append(detail)
    return lines
