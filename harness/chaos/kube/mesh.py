"""Chaos Mesh faults that verify themselves (activities for ``chaos run``).

Why not ``chaosk8s.chaosmesh.*`` directly: its ``add_latency`` / ``set_loss`` cannot set a
``duration`` (the object stays until someone deletes it), its create swallows a 409 (a
leftover of an earlier run with the same fixed name means nothing new is injected, and the
action still succeeds), its delete raises on a 404, and nothing checks that Chaos Mesh
injected anything. Here every object:

- gets a unique name (``NAME-<8 hex>``) and always a ``duration`` (the cluster reverts it
  by itself even if nobody deletes it);
- is written to the fault ledger (context, namespace, kind, name; fsynced) BEFORE it is
  created, so a killed run leaves an entry ``harness recover`` deletes;
- is checked after creation: the action waits for Chaos Mesh's ``AllInjected`` condition
  and for a record of every serving pod the selector picks, and fails (the step is ERROR,
  never PASS) when that does not come within ``inject_timeout_s``;
- is deleted by :func:`delete_chaos` in the rollbacks (a 404 counts as done).

Connection: chaosk8s's own (``create_k8s_api_client``), i.e. the run's single-context
kubeconfig. Runs inside ``chaos run`` only.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from chaoslib.exceptions import ActivityFailed
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from harness.chaos.driver.own import sigterm_deferred
from harness.chaos.driver.testbed import fault_injected, fault_reverted
from harness.chaos.kube.cluster import (
    api_client,
    current_context,
    list_pods,
    mesh_label_map,
    mesh_selector_string,
    source_kubeconfig,
)
from harness.chaos.kube.objects import (
    GROUP,
    KIND,
    VERSION,
    ChaosObject,
    chaos_object_of,
    chaos_object_record,
    delete_object,
)
from harness.chaos.ledger import FaultRecord, read_records, remove_record, write_record

POLL_S = 0.25
INJECT_TIMEOUT_S = 30.0


def _unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def _condition(obj: dict[str, Any], kind: str) -> bool:
    status = obj.get("status") or {}
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or []
    )


def _record_ids(obj: dict[str, Any], selector_key: str) -> set[str]:
    experiment = (obj.get("status") or {}).get("experiment") or {}
    return {
        "/".join(str(r.get("id", "")).split("/")[:2])
        for r in experiment.get("containerRecords") or []
        if r.get("selectorKey") == selector_key and r.get("phase") == "Injected"
    }


def _read(api: Any, obj: ChaosObject) -> dict[str, Any]:
    found = api.get_namespaced_custom_object(GROUP, VERSION, obj.namespace, obj.plural, obj.name)
    return found if isinstance(found, dict) else {}


def _expected_pods(ns: str, selectors: str | dict[str, str]) -> set[str]:
    pods = list_pods(ns, mesh_selector_string(selectors))
    return {f"{ns}/{p.name}" for p in pods if p.serving}


def _create(obj: ChaosObject, body: dict[str, Any]) -> FaultRecord:
    """Ledger entry first (durable), then the object; a refused create removes the entry."""
    record = chaos_object_record(obj)
    write_record(record)
    api = client.CustomObjectsApi(api_client())
    try:
        api.create_namespaced_custom_object(GROUP, VERSION, obj.namespace, obj.plural, body)
    except ApiException as exc:
        if exc.status is not None and 400 <= exc.status < 500 and exc.status != 409:
            remove_record(record.id)  # refused: nothing was created
        raise ActivityFailed(
            f"creating {obj.kind} {obj.name} failed: {exc.status} {exc.reason}"
        ) from None
    return record


def _await_injected(
    obj: ChaosObject, selectors: str | dict[str, str], mode: str, timeout_s: float
) -> dict[str, Any]:
    api = client.CustomObjectsApi(api_client())
    deadline = time.monotonic() + timeout_s
    missing: set[str] = set()
    current: dict[str, Any] = {}
    while time.monotonic() < deadline:
        current = _read(api, obj)
        if _condition(current, "AllInjected"):
            injected = _record_ids(current, ".")
            expected = _expected_pods(obj.namespace, selectors) if mode == "all" else set()
            missing = expected - injected
            if injected and not missing:
                return current
        time.sleep(POLL_S)
    conditions = (current.get("status") or {}).get("conditions")
    why = f"pods not injected: {sorted(missing)}" if missing else f"conditions {conditions}"
    raise ActivityFailed(
        f"{obj.kind} {obj.name}: Chaos Mesh did not report AllInjected within "
        f"{timeout_s:.0f}s ({why}): the fault was not injected"
    )


def _inject(
    kind: str, name: str, ns: str, spec: dict[str, Any], selectors: Any, timeout_s: float
) -> dict[str, Any]:
    if not spec.get("duration"):
        raise ActivityFailed(f"{kind} {name}: a duration is required")
    obj = ChaosObject(current_context(), ns, kind, _unique(name), source_kubeconfig())
    labels = {"app.kubernetes.io/managed-by": "harness"}
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {"name": obj.name, "namespace": ns, "labels": labels},
        "spec": spec,
    }
    record = _create(obj, body)
    current = _await_injected(obj, selectors, str(spec.get("mode")), timeout_s)
    pods = sorted(_record_ids(current, "."))
    fault_injected(kind, f"{obj.name} on {len(pods)} pod(s)", record.id)
    return {"name": obj.name, "kind": kind, "namespace": ns, "injected_pods": pods}


def _selector(ns: str, label_selectors: str | dict[str, str], mode: str) -> dict[str, Any]:
    selector = {"namespaces": [ns], "labelSelectors": mesh_label_map(label_selectors)}
    return {"mode": mode, "selector": selector}


def _network_spec(
    ns: str,
    label_selectors: str | dict[str, str],
    mode: str,
    direction: str,
    duration: str,
    external_targets: list[str] | str | None,
    target_label_selectors: str | dict[str, str] | None,
    target_mode: str,
) -> dict[str, Any]:
    spec: dict[str, Any] = {**_selector(ns, label_selectors, mode), "direction": direction}
    spec["duration"] = duration
    if external_targets:
        targets = (
            external_targets.split(",") if isinstance(external_targets, str) else external_targets
        )
        spec["externalTargets"] = [t.strip() for t in targets]
    if target_label_selectors:
        spec["target"] = _selector(ns, target_label_selectors, target_mode)
    return spec


def network_delay(
    name: str,
    label_selectors: str | dict[str, str],
    latency: str,
    jitter: str = "0ms",
    duration: str = "30s",
    ns: str = "default",
    mode: str = "all",
    direction: str = "to",
    correlation: str = "0",
    external_targets: list[str] | str | None = None,
    target_label_selectors: str | dict[str, str] | None = None,
    target_mode: str = "all",
    inject_timeout_s: float = INJECT_TIMEOUT_S,
) -> dict[str, Any]:
    """NetworkChaos ``delay`` on every selected pod (``mode: all``); verified injected."""
    spec = _network_spec(
        ns,
        label_selectors,
        mode,
        direction,
        duration,
        external_targets,
        target_label_selectors,
        target_mode,
    )
    spec["action"] = "delay"
    spec["delay"] = {"latency": latency, "jitter": jitter, "correlation": correlation}
    return _inject("NetworkChaos", name, ns, spec, label_selectors, inject_timeout_s)


def network_loss(
    name: str,
    label_selectors: str | dict[str, str],
    loss: str = "100",
    duration: str = "30s",
    ns: str = "default",
    mode: str = "all",
    direction: str = "to",
    correlation: str = "0",
    external_targets: list[str] | str | None = None,
    target_label_selectors: str | dict[str, str] | None = None,
    target_mode: str = "all",
    inject_timeout_s: float = INJECT_TIMEOUT_S,
) -> dict[str, Any]:
    """NetworkChaos ``loss`` on every selected pod; verified injected."""
    spec = _network_spec(
        ns,
        label_selectors,
        mode,
        direction,
        duration,
        external_targets,
        target_label_selectors,
        target_mode,
    )
    spec["action"] = "loss"
    spec["loss"] = {"loss": str(loss), "correlation": correlation}
    return _inject("NetworkChaos", name, ns, spec, label_selectors, inject_timeout_s)


def stress_cpu(
    name: str,
    label_selectors: str | dict[str, str],
    workers: int,
    load: int,
    duration: str = "30s",
    ns: str = "default",
    mode: str = "all",
    container_names: list[str] | str | None = None,
    inject_timeout_s: float = INJECT_TIMEOUT_S,
) -> dict[str, Any]:
    """StressChaos CPU stressors in every selected pod; verified injected."""
    spec = _selector(ns, label_selectors, mode)
    spec["duration"] = duration
    spec["stressors"] = {"cpu": {"workers": int(workers), "load": int(load)}}
    if container_names:
        names = container_names.split(",") if isinstance(container_names, str) else container_names
        spec["containerNames"] = list(names)
    return _inject("StressChaos", name, ns, spec, label_selectors, inject_timeout_s)


def pod_failure(
    name: str,
    label_selectors: str | dict[str, str],
    duration: str = "5s",
    ns: str = "default",
    mode: str = "all",
    inject_timeout_s: float = INJECT_TIMEOUT_S,
) -> dict[str, Any]:
    """PodChaos ``pod-failure``: every selected pod unavailable for ``duration`` (its
    containers swapped for a pause image, the pod kept); verified injected."""
    spec = _selector(ns, label_selectors, mode)
    spec["action"] = "pod-failure"
    spec["duration"] = duration
    return _inject("PodChaos", name, ns, spec, label_selectors, inject_timeout_s)


def _own(name: str) -> list[tuple[FaultRecord, ChaosObject]]:
    """This process's Chaos Mesh objects named ``name-*`` (from the ledger)."""
    out: list[tuple[FaultRecord, ChaosObject]] = []
    for _, entry in read_records():
        if isinstance(entry, FaultRecord) and entry.kind == KIND and entry.owner_pid == os.getpid():
            obj = chaos_object_of(entry)
            if obj.name.startswith(f"{name}-"):
                out.append((entry, obj))
    return out


def await_recovered(name: str, within_s: float = 30.0) -> list[str]:
    """Wait until Chaos Mesh reports ``AllRecovered`` for this run's ``name`` objects (their
    ``duration`` ran out; an object already gone counts); fail when it does not come
    within ``within_s``."""
    api = client.CustomObjectsApi(api_client())
    done: list[str] = []
    for record, obj in _own(name):
        detail = _recovered(api, obj, within_s)
        fault_reverted(obj.kind, obj.name, True, detail, record.id)
        done.append(f"{obj.name}: {detail}")
    return done


def _recovered(api: Any, obj: ChaosObject, within_s: float) -> str:
    deadline = time.monotonic() + within_s
    while True:
        try:
            if _condition(_read(api, obj), "AllRecovered"):
                return "AllRecovered"
        except ApiException as exc:
            if exc.status == 404:
                return "gone (404)"
            raise ActivityFailed(f"reading {obj.kind} {obj.name}: {exc.status}") from None
        if time.monotonic() > deadline:
            raise ActivityFailed(f"{obj.kind} {obj.name}: not AllRecovered after {within_s:.0f}s")
        time.sleep(POLL_S)


def delete_chaos(name: str) -> list[str]:
    """Delete this run's ``name`` objects (rollback). A 404 counts as done; the ledger entry
    goes once the object is verified gone. Nothing recorded: nothing to delete."""
    lines: list[str] = []
    with sigterm_deferred():
        for record, obj in _own(name):
            try:
                detail = delete_object(api_client(), obj)
            except (ApiException, TimeoutError) as exc:
                fault_reverted(obj.kind, obj.name, False, str(exc)[:200], record.id)
                raise ActivityFailed(f"deleting {obj.kind} {obj.name} failed: {exc}") from None
            remove_record(record.id)
            fault_reverted(obj.kind, obj.name, True, detail, record.id)
            lines.append(f"{obj.kind} {obj.name}: {detail}")
    return lines
