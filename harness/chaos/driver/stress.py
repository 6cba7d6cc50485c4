"""CPU stress beside the serving pods: Python burner processes pinned to the CPUs the pods
may run on (no stress-ng needed), bounded in time. Local stand-in for Chaos Mesh
``StressChaos`` (which runs stress-ng inside the pod's cgroup)."""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import sys

import psutil

from harness.chaos.allowlist import check_local_selector
from harness.chaos.driver.own import revert_own
from harness.chaos.driver.testbed import (
    FaultError,
    current_manifest,
    fault_injected,
    manifest_path,
    select_pods,
)
from harness.chaos.ledger import FaultRecord, new_record, update_record, write_record
from harness.chaos.recovery import process_ref
from harness.units import parse_duration_s

MAX_DURATION_S = 300.0
MAX_WORKERS = 8
BURNER_MODULE = "harness.chaos.driver.burner"


def stress_cpu(
    name: str = "serving-cpu",
    workers: int = 1,
    load: int = 100,
    ns: str = "default",
    label_selectors: str = "app=model-serving",
    duration: str = "30s",
) -> list[int]:
    """Start ``workers`` burners at ``load`` percent, pinned beside the selected pods.

    Mirrors ``chaosk8s.chaosmesh.stress.actions.stress_cpu``. The burners stop by
    themselves after ``duration`` (at most 300 s); :func:`delete_stressor` stops them early.
    """
    check_local_selector(label_selectors)
    duration_s = check_burners(duration, workers, load)
    manifest = current_manifest()
    pods = select_pods(manifest, label_selectors, all=True, ns=ns)
    cpus: set[int] = set()
    for pod in pods:
        with contextlib.suppress(psutil.NoSuchProcess):
            cpus.update(psutil.Process(pod.pid).cpu_affinity() or [])
    record = new_record(
        "stress",
        f"{name}: {workers} burner(s) at {load}% beside {','.join(p.name for p in pods)}",
        manifest_path=str(manifest_path()),
        extra={"duration_s": duration_s, "cpus": sorted(cpus)},
    )
    return start_burners(record, workers, load, duration_s, cpus)


def check_burners(duration: str, workers: int, load: int) -> float:
    """The burners' duration in seconds, after checking every bound (FaultError)."""
    duration_s = parse_duration_s(duration)
    if not 0 < duration_s <= MAX_DURATION_S:
        raise FaultError(f"duration {duration!r} must lie in (0, {MAX_DURATION_S:g}s]")
    if not 1 <= workers <= MAX_WORKERS:
        raise FaultError(f"workers={workers} must lie in [1, {MAX_WORKERS}]")
    if not 1 <= load <= 100:
        raise FaultError(f"load={load} must lie in [1, 100]")
    return duration_s


def start_burners(
    record: FaultRecord, workers: int, load: int, duration_s: float, cpus: set[int]
) -> list[int]:
    """Write ``record``, start the burners pinned to ``cpus``, record their pids."""
    write_record(record)  # intent first: a crash before the pids are known leaves no burner
    burners: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(workers):
            burners.append(
                subprocess.Popen(
                    [sys.executable, "-m", BURNER_MODULE, f"{duration_s}", f"{load}"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        record = dataclasses.replace(record, processes=tuple(process_ref(b.pid) for b in burners))
        update_record(record)
        for burner in burners:
            if cpus:
                with contextlib.suppress(psutil.NoSuchProcess):
                    psutil.Process(burner.pid).cpu_affinity(sorted(cpus))
            assert burner.stdin is not None
            burner.stdin.write(b"go\n")
            burner.stdin.close()
    except BaseException:
        for burner in burners:
            with contextlib.suppress(ProcessLookupError):
                burner.kill()
        raise
    fault_injected("cpu-stress", record.target, record.id)
    return [b.pid for b in burners]


def delete_stressor(name: str = "serving-cpu", ns: str = "default") -> list[str]:
    """Stop the burners this run started (idempotent)."""
    return revert_own("stress")
