"""The cluster behind the Kubernetes stand-in (test code: no API server can run here).

It models what changes a chaos verdict, nothing more:

- pods with a lifecycle: deleting one sets ``deletionTimestamp`` and leaves it listed (phase
  still Running) for its grace period; Evicted pods (phase Failed, reason Evicted) stay
  listed and serve nothing;
- Deployments whose ReplicaSet replaces a missing pod after ``schedule_delay_s`` (Pending,
  not Ready) and makes it Ready after ``ready_delay_s``; Deployment status
  (``updatedReplicas``, ``readyReplicas``, ``availableReplicas``, ``Available``) follows;
- RBAC: namespaces in ``forbidden`` answer 403;
- Chaos Mesh objects (NetworkChaos, StressChaos): the "controller" selects pods as Chaos Mesh
  does (``mode`` one/all/fixed, ``selector.namespaces`` + ``labelSelectors``), writes one
  record per pod (per container for StressChaos), sets ``Selected``/``AllInjected`` after
  ``inject_delay_s`` and, once ``duration`` has passed, ``AllRecovered`` (records
  NotInjected). ``mesh_broken`` stands for a Chaos Mesh that never injects;
- a per-container file system for exec (``dd``, ``stat -c %s``, ``rm -f``, ``test ! -e``,
  ``echo``).
"""

from __future__ import annotations

import itertools
import random
import re
import shlex
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MB = 1024 * 1024
_DURATION = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h)$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration_s(text: str) -> float:
    match = _DURATION.match(text or "")
    if not match:
        raise ValueError(f"bad duration {text!r}")
    return float(match["n"]) * _UNITS[match["unit"]]


def selector_matches(selector: str | None, labels: dict[str, str]) -> bool:
    """API-server label selector semantics for ``=``, ``==``, ``!=`` terms."""
    for term in (selector or "").split(","):
        term = term.strip()
        if not term:
            continue
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
            continue
        key, value = term.split("==", 1) if "==" in term else term.split("=", 1)
        if labels.get(key.strip()) != value.strip():
            return False
    return True


@dataclass
class Pod:
    name: str
    namespace: str
    labels: dict[str, str]
    uid: str
    created_at: float
    containers: tuple[str, ...] = ("main",)
    ready_at: float = 0.0  # Pending (not ready) until then
    deleted_at: float | None = None
    grace_s: float = 1.0
    evicted: bool = False
    owner: str = ""
    failing: bool = False  # PodChaos pod-failure in place: Running but not Ready
    files: dict[tuple[str, str], int] = field(default_factory=dict)

    def phase(self, now: float) -> str:
        if self.evicted:
            return "Failed"
        return "Running" if now >= self.ready_at else "Pending"

    def serving(self, now: float) -> bool:
        return self.phase(now) == "Running" and not self.failing and self.deleted_at is None

    def to_json(self, now: float) -> dict[str, Any]:
        ready = self.phase(now) == "Running" and not self.failing
        status: dict[str, Any] = {
            "phase": self.phase(now),
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        }
        if self.evicted:
            status.update(reason="Evicted", conditions=[])
        meta: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": self.labels,
            "uid": self.uid,
            "creationTimestamp": rfc3339(self.created_at),
        }
        if self.deleted_at is not None:
            meta["deletionTimestamp"] = rfc3339(self.deleted_at + self.grace_s)
            meta["deletionGracePeriodSeconds"] = int(self.grace_s)
        spec = {"containers": [{"name": c, "image": "stand-in"} for c in self.containers]}
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


@dataclass
class Deployment:
    name: str
    namespace: str
    labels: dict[str, str]
    replicas: int
    containers: tuple[str, ...] = ("main",)
    generation: int = 1
    missing_since: float | None = None


@dataclass
class ChaosObject:
    kind: str
    namespace: str
    body: dict[str, Any]
    created_at: float
    records: list[dict[str, Any]] = field(default_factory=list)
    injected_at: float | None = None
    recovered_at: float | None = None


@dataclass
class Cluster:
    schedule_delay_s: float = 0.3
    ready_delay_s: float = 0.7
    inject_delay_s: float = 0.2
    grace_s: float = 1.0
    mesh_broken: bool = False
    forget_recovered: bool = False  # delete a Chaos Mesh object once it has recovered
    on_create: list[Any] = field(default_factory=list)  # callbacks(body) at create time
    forbidden: set[str] = field(default_factory=set)
    pods: dict[str, Pod] = field(default_factory=dict)
    deployments: dict[str, Deployment] = field(default_factory=dict)
    chaos: dict[tuple[str, str, str], ChaosObject] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    deleted_pods: list[tuple[str, str]] = field(default_factory=list)  # (name, uid)
    created_chaos: list[dict[str, Any]] = field(default_factory=list)
    execs: list[tuple[str, str, list[str]]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ---- set-up -------------------------------------------------------------------------
    def add_deployment(
        self,
        ns: str,
        name: str,
        labels: dict[str, str],
        replicas: int,
        containers: tuple[str, ...] = ("main",),
    ) -> Deployment:
        with self.lock:
            dep = Deployment(name, ns, labels, replicas, containers)
            self.deployments[f"{ns}/{name}"] = dep
            for _ in range(replicas):
                self._new_pod(dep, ready_at=0.0)
            return dep

    def add_pod(
        self,
        ns: str,
        labels: dict[str, str],
        *,
        evicted: bool = False,
        containers: tuple[str, ...] = ("main",),
    ) -> str:
        with self.lock:
            n = next(self._ids)
            name = f"{labels.get('app', 'pod')}-x{n}"
            self.pods[f"{ns}/{name}"] = Pod(
                name, ns, dict(labels), f"uid-{n}", time.time(), containers, evicted=evicted
            )
            return name

    def _new_pod(self, dep: Deployment, ready_at: float) -> Pod:
        n = next(self._ids)
        pod = Pod(
            f"{dep.name}-{n:04d}",
            dep.namespace,
            dict(dep.labels),
            f"uid-{n}",
            time.time(),
            dep.containers,
            ready_at=ready_at,
            grace_s=self.grace_s,
            owner=dep.name,
        )
        self.pods[f"{dep.namespace}/{pod.name}"] = pod
        return pod

    # ---- controllers (called on every request and by the ticker) ------------------------
    def tick(self) -> None:
        now = time.time()
        with self.lock:
            for key, pod in list(self.pods.items()):
                if pod.deleted_at is not None and now >= pod.deleted_at + pod.grace_s:
                    del self.pods[key]
            for dep in self.deployments.values():
                live = [
                    p
                    for p in self.pods.values()
                    if p.owner == dep.name
                    and p.namespace == dep.namespace
                    and p.deleted_at is None
                    and not p.evicted
                ]
                missing = dep.replicas - len(live)
                if missing <= 0:
                    dep.missing_since = None
                    continue
                if dep.missing_since is None:
                    dep.missing_since = now
                if now - dep.missing_since >= self.schedule_delay_s:
                    for _ in range(missing):
                        self._new_pod(dep, ready_at=now + self.ready_delay_s)
                    dep.missing_since = None
            for obj in list(self.chaos.values()):
                self._reconcile(obj, now)

    def _reconcile(self, obj: ChaosObject, now: float) -> None:
        if self.mesh_broken:
            return
        if obj.injected_at is None and now - obj.created_at >= self.inject_delay_s:
            obj.records = self._select(obj)
            obj.injected_at = now
            self._pod_failure(obj, True)
        spec = obj.body.get("spec", {})
        duration = spec.get("duration")  # none: runs until deleted, as in Chaos Mesh
        expired = duration is not None and now - obj.created_at >= duration_s(str(duration))
        if obj.injected_at is not None and obj.recovered_at is None and expired:
            self.recover(obj, now)
            if self.forget_recovered:
                name = obj.body["metadata"]["name"]
                self.chaos = {k: v for k, v in self.chaos.items() if k[2] != name}

    def recover(self, obj: ChaosObject, now: float) -> None:
        obj.recovered_at = now
        for record in obj.records:
            record["phase"] = "NotInjected"
        self._pod_failure(obj, False)

    def _pod_failure(self, obj: ChaosObject, on: bool) -> None:
        if obj.kind != "PodChaos":
            return
        for record in obj.records:
            pod = self.pods.get(record["id"])
            if pod is not None:
                pod.failing = on

    def _pods_for(self, selector: dict[str, Any], mode: str, default_ns: str) -> list[Pod]:
        now = time.time()
        namespaces = selector.get("namespaces") or [default_ns]
        labels = selector.get("labelSelectors") or {}
        found = [
            p
            for p in self.pods.values()
            if p.namespace in namespaces
            and p.serving(now)
            and all(p.labels.get(k) == v for k, v in labels.items())
        ]
        if mode == "one":
            return random.sample(found, min(1, len(found)))
        return found

    def _select(self, obj: ChaosObject) -> list[dict[str, Any]]:
        spec = obj.body.get("spec", {})
        records = []
        chosen = self._pods_for(spec.get("selector") or {}, spec.get("mode", "one"), obj.namespace)
        for pod in chosen:
            if obj.kind == "StressChaos":
                names = spec.get("containerNames") or list(pod.containers)
                records += [
                    {
                        "id": f"{pod.namespace}/{pod.name}/{c}",
                        "selectorKey": ".",
                        "phase": "Injected",
                    }
                    for c in names
                    if c in pod.containers
                ]
            else:
                records.append(
                    {"id": f"{pod.namespace}/{pod.name}", "selectorKey": ".", "phase": "Injected"}
                )
        target = spec.get("target")
        if obj.kind == "NetworkChaos" and isinstance(target, dict):
            for pod in self._pods_for(
                target.get("selector") or {}, target.get("mode", "one"), obj.namespace
            ):
                records.append(
                    {
                        "id": f"{pod.namespace}/{pod.name}",
                        "selectorKey": ".Target",
                        "phase": "Injected",
                    }
                )
        return records

    # ---- views ----------------------------------------------------------------------------
    def chaos_json(self, obj: ChaosObject) -> dict[str, Any]:
        injected = obj.injected_at is not None and obj.recovered_at is None and bool(obj.records)
        recovered = obj.recovered_at is not None

        def cond(kind: str, value: bool) -> dict[str, str]:
            return {"type": kind, "status": "True" if value else "False"}

        status = {
            "conditions": [
                cond("Selected", obj.injected_at is not None and bool(obj.records)),
                cond("AllInjected", injected),
                cond("AllRecovered", recovered),
                cond("Paused", False),
            ],
            "experiment": {
                "desiredPhase": "Stop" if recovered else "Run",
                "containerRecords": obj.records if obj.injected_at is not None else None,
            },
        }
        return {**obj.body, "status": status}

    def deployment_json(self, dep: Deployment) -> dict[str, Any]:
        now = time.time()
        mine = [
            p for p in self.pods.values() if p.owner == dep.name and p.namespace == dep.namespace
        ]
        ready = [p for p in mine if p.serving(now)]
        available = len(ready) >= dep.replicas
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": dep.name,
                "namespace": dep.namespace,
                "generation": dep.generation,
            },
            "spec": {
                "replicas": dep.replicas,
                "selector": {"matchLabels": dep.labels},
                "template": {
                    "metadata": {"labels": dep.labels},
                    "spec": {"containers": [{"name": c} for c in dep.containers]},
                },
            },
            "status": {
                "observedGeneration": dep.generation,
                "replicas": len([p for p in mine if p.deleted_at is None]),
                "updatedReplicas": len([p for p in mine if p.deleted_at is None and not p.evicted]),
                "readyReplicas": len(ready),
                "availableReplicas": len(ready),
                "conditions": [{"type": "Available", "status": "True" if available else "False"}],
            },
        }

    def serving_pods(self, ns: str, selector: str) -> list[Pod]:
        now = time.time()
        return [
            p
            for p in self.pods.values()
            if p.namespace == ns and p.serving(now) and selector_matches(selector, p.labels)
        ]

    # ---- exec -------------------------------------------------------------------------------
    def run(self, pod: Pod, container: str, argv: list[str]) -> tuple[int, str]:
        """A tiny shell: ``sh -c "a && b"`` with dd/stat/rm/test/echo."""
        script = argv[2] if argv[:2] == ["sh", "-c"] and len(argv) > 2 else shlex.join(argv)
        out = []
        for part in script.split("&&"):
            words = [w for w in shlex.split(part) if w != "2>/dev/null"]
            rc, text = self._command(pod, container, words)
            out.append(text)
            if rc != 0:
                return rc, "".join(out)
        return 0, "".join(out)

    def _command(self, pod: Pod, container: str, words: list[str]) -> tuple[int, str]:
        files = pod.files
        if words and words[0] == "dd":
            opts = dict(w.split("=", 1) for w in words[1:] if "=" in w)
            files[(container, opts["of"])] = int(opts.get("count", "0")) * MB
            return 0, ""
        if words[:3] == ["stat", "-c", "%s"] and len(words) == 4:
            size = files.get((container, words[3]))
            return (0, f"{size}\n") if size is not None else (1, "")
        if words[:2] == ["rm", "-f"] and len(words) == 3:
            files.pop((container, words[2]), None)
            return 0, ""
        if words[:3] == ["test", "!", "-e"] and len(words) == 4:
            return (1, "") if (container, words[3]) in files else (0, "")
        if words and words[0] == "echo":
            return 0, " ".join(words[1:]) + "\n"
        return 127, ""
