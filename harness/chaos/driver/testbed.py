"""The testbed as the driver sees it: the manifest named by ``TESTBED_MANIFEST`` and the
serving pods alive right now, filtered by selector, within the blast radius."""

from __future__ import annotations

import math
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.chaos.allowlist import (
    BlastRadiusError,
    check_local_selector,
    parse_label_selector,
    selector_matches,
)
from harness.chaos.ledger import ProcessRef
from harness.chaos.stream import append_event
from testbed.manifest import Manifest, Pod, live_pods, load_manifest, serving_master

MANIFEST_ENV = "TESTBED_MANIFEST"


class FaultError(RuntimeError):
    """The driver could not inject or revert a fault (chaoslib records it as failed)."""


def manifest_path() -> Path:
    value = os.environ.get(MANIFEST_ENV)
    if not value:
        raise FaultError(f"env {MANIFEST_ENV} is not set: point it at the testbed manifest")
    return Path(value)


def current_manifest() -> Manifest:
    return load_manifest(manifest_path())


@dataclass(frozen=True)
class TargetPod:
    name: str
    pid: int
    create_time: float

    @property
    def ref(self) -> ProcessRef:
        return ProcessRef(self.pid, self.create_time)


def select_pods(
    manifest: Manifest,
    label_selector: str | None,
    name_pattern: str | None = None,
    all: bool = False,
    rand: bool = False,
    mode: str = "fixed",
    qty: int = 1,
    ns: str = "default",
    order: str = "alphabetic",
) -> list[TargetPod]:
    """Pods to act on, chosen as chaosk8s does (all / fixed qty / percentage; random or
    alphabetic / oldest first). Refuses anything outside the blast radius, and an empty pick."""
    if ns != "default":
        raise BlastRadiusError(f"namespace {ns!r}: the local testbed has only 'default'")
    check_local_selector(label_selector)
    terms = parse_label_selector(label_selector)
    master = serving_master(manifest)
    if master is None:
        raise FaultError("the serving master named by the manifest is not running")
    pods: list[Pod] = [p for p in live_pods(manifest) if selector_matches(terms, p.labels)]
    if name_pattern:
        pattern = re.compile(name_pattern)
        pods = [p for p in pods if pattern.search(p.name)]
    targets = [t for t in (_target(p, master.pid) for p in pods) if t is not None]
    if not targets:
        raise FaultError(
            f"selector {label_selector!r}"
            + (f" with name pattern {name_pattern!r}" if name_pattern else "")
            + " matches no live serving pod: nothing injected"
        )
    if all:
        return targets
    if mode == "percentage":
        count = math.ceil(len(targets) * qty / 100)
    elif mode == "fixed":
        count = qty
    else:
        raise FaultError(f"mode {mode!r} is not 'fixed' or 'percentage'")
    count = min(max(count, 0), len(targets))
    if count == 0:
        raise FaultError(f"qty={qty} selects no pod: nothing injected")
    if rand:
        return random.sample(targets, count)
    if order == "oldest":
        return sorted(targets, key=lambda t: t.create_time)[:count]
    return sorted(targets, key=lambda t: t.name)[:count]


def _target(pod: Pod, master_pid: int) -> TargetPod | None:
    """The pod as a process ref, if it is (still) a child of the serving master."""
    try:
        proc = psutil.Process(pod.pid)
        if proc.ppid() != master_pid:
            return None  # outside the blast radius: not the testbed's worker any more
        return TargetPod(pod.name, pod.pid, proc.create_time())
    except psutil.NoSuchProcess:
        return None


def fault_injected(
    fault: str, target: str, ledger_id: str, started_at: float | None = None
) -> None:
    """``started_at``: when the injection began (a kill: the signal), if not just now."""
    extra = {} if started_at is None else {"started_at": started_at}
    append_event("fault-injected", fault=fault, target=target, ledger_id=ledger_id, **extra)


def fault_reverted(fault: str, target: str, ok: bool, detail: str, ledger_id: str) -> None:
    append_event(
        "fault-reverted", fault=fault, target=target, ok=ok, detail=detail, ledger_id=ledger_id
    )
