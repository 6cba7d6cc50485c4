""" "Pods" of a service the user runs on this machine, as the suite declares them
(``target.local_processes``), found among the live processes.

A group selects its pods by exactly one of:

- ``pid_file``: the process whose pid the file holds (one pod);
- ``parent_pid_file`` / ``parent_pid``: the live children of a master process (gunicorn,
  ``uvicorn --workers``), less its helper processes (multiprocessing's
  ``resource_tracker`` / ``forkserver``, and whatever ``exclude`` matches): the master
  replaces a killed worker like a ReplicaSet replaces a deleted pod;
- ``command`` + ``user``: every process of that user whose command line matches the regex.

Nothing else is ever a pod: the harness process, its ancestors, and pid 1 never are. The
orchestrator writes the declarations to a JSON file (``HARNESS_LOCAL_PROCESSES``) that the
fault driver inside ``chaos run`` and ``harness recover`` read back: the file is the
interface, and a ledger entry names it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from harness.chaos.ledger import ProcessRef
from harness.target import ProcessGroup
from wholefile import write_atomically

LOCAL_PROCESSES_ENV = "HARNESS_LOCAL_PROCESSES"
SCHEMA = "harness.local-processes/1"
HELPER_COMMANDS = r"multiprocessing[.](resource_tracker|forkserver|semaphore_tracker)"


class LocalPodsError(ValueError):
    """A group that is not declared, or whose selector cannot be read; says why."""


@dataclass(frozen=True)
class LocalPod:
    group: str
    pid: int
    create_time: float

    @property
    def name(self) -> str:
        return f"{self.group}-{self.pid}"

    @property
    def ref(self) -> ProcessRef:
        return ProcessRef(self.pid, self.create_time)


@dataclass(frozen=True)
class LocalProcesses:
    """What the suite declared, plus the service URLs the probes may check."""

    groups: tuple[ProcessGroup, ...] = ()
    services: Mapping[str, str] = field(default_factory=dict)

    def group(self, name: str) -> ProcessGroup:
        for group in self.groups:
            if group.name == name:
                return group
        known = ", ".join(g.name for g in self.groups) or "none"
        raise LocalPodsError(
            f"process group {name!r} is not declared in target.local_processes (declared: "
            f"{known}): refused"
        )

    def write(self, path: Path) -> None:
        data = {
            "schema": SCHEMA,
            "groups": [asdict(g) for g in self.groups],
            "services": dict(self.services),
        }
        write_atomically(path, json.dumps(data, indent=2) + "\n")


def read_local_processes(path: Path) -> LocalProcesses:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LocalPodsError(
            f"{path}: cannot read the local-process declarations ({exc})"
        ) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise LocalPodsError(f"{path}: not a {SCHEMA} file")
    groups = tuple(ProcessGroup(**g) for g in data.get("groups", []))
    return LocalProcesses(groups, {str(k): str(v) for k, v in data.get("services", {}).items()})


def current_local_processes() -> tuple[LocalProcesses, Path]:
    value = os.environ.get(LOCAL_PROCESSES_ENV)
    if not value:
        raise LocalPodsError(
            f"env {LOCAL_PROCESSES_ENV} is not set: the suite declares no target.local_processes"
        )
    return read_local_processes(Path(value)), Path(value)


def _protected() -> set[int]:
    """This process, its ancestors and pid 1: never a pod."""
    pids = {1, os.getpid()}
    try:
        pids.update(p.pid for p in psutil.Process().parents())
    except psutil.Error:
        pass
    return pids


def _read_pid(path: str) -> int:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError) as exc:
        raise LocalPodsError(f"pid file {path}: no pid in it ({exc})") from None


def _candidates(group: ProcessGroup) -> list[psutil.Process]:
    if group.pid_file:
        try:
            return [psutil.Process(_read_pid(group.pid_file))]
        except psutil.NoSuchProcess:
            return []
    if group.parent_pid_file or group.parent_pid:
        parent_pid = group.parent_pid or _read_pid(group.parent_pid_file)
        try:
            children = psutil.Process(parent_pid).children()
        except psutil.NoSuchProcess:
            return []
        helpers = re.compile("|".join(filter(None, [HELPER_COMMANDS, group.exclude])))
        return [c for c in children if not helpers.search(_command(c))]
    pattern = re.compile(group.command)
    found = []
    for proc in psutil.process_iter(["username"]):
        if proc.info.get("username") == group.user and pattern.search(_command(proc)):
            found.append(proc)
    return found


def _command(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def live_pods(group: ProcessGroup) -> list[LocalPod]:
    """The group's pods alive right now, by pid."""
    protected = _protected()
    pods = []
    for proc in _candidates(group):
        try:
            if proc.pid in protected or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            pods.append(LocalPod(group.name, proc.pid, proc.create_time()))
        except psutil.Error:
            continue
    return sorted(pods, key=lambda p: p.pid)


def within_selection(pods: Sequence[LocalPod], pids: Sequence[int]) -> list[LocalPod]:
    """The pods named by ``pids``; a pid outside the group's selection is refused."""
    by_pid = {p.pid: p for p in pods}
    outside = [pid for pid in pids if pid not in by_pid]
    if outside:
        raise LocalPodsError(
            f"pid(s) {', '.join(map(str, outside))} are not pods of this group "
            f"(selected now: {', '.join(map(str, by_pid)) or 'none'}): refused"
        )
    return [by_pid[pid] for pid in pids]


def replicas_back(
    declarations: str, group_name: str, expected: int, wait_s: float
) -> tuple[bool, str]:
    """After a pod kill: whether ``group_name`` has ``expected`` live pods again within
    ``wait_s`` (its master replaced the killed one). (ok, detail)."""
    try:
        group = read_local_processes(Path(declarations)).group(group_name)
    except LocalPodsError as exc:
        return True, f"declarations gone ({exc}): no replicas to check"
    deadline = time.monotonic() + wait_s
    count = len(live_pods(group))
    while count < expected and time.monotonic() < deadline:
        time.sleep(0.2)
        count = len(live_pods(group))
    if count < expected:
        return False, f"pods of {group_name} {count}/{expected} after {wait_s:.0f}s"
    return True, f"pods of {group_name} {count}/{expected} running"
