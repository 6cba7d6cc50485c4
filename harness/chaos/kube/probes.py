"""A steady-state probe that follows a real pod lifecycle (runs inside ``chaos run``).

``chaosk8s.pod.probes.pods_in_phase`` counts a Terminating pod as Running (its phase stays
Running for the whole grace period), fails at once while a replacement is still Pending,
and fails for good on an Evicted pod (phase Failed) that nothing serves from. Here:

- the Deployment must be available and up to date: ``observedGeneration`` caught up,
  ``updatedReplicas``, ``availableReplicas`` and ``readyReplicas`` at ``spec.replicas``,
  condition ``Available`` True;
- serving pods are Running, Ready and not Terminating; Evicted pods are not counted and do
  not block; at least ``spec.replicas`` (and ``min_ready``) must be serving;
- it waits up to ``within_s`` for that (a replacement takes time), then answers False.

A sick system is an answer (False), not an error; a missing permission (403) or an
unreachable API raises, so the step is ERROR rather than FAIL.
"""

from __future__ import annotations

import time
from typing import Any

from chaoslib.exceptions import ActivityFailed
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from harness.chaos.kube.cluster import api_client, list_pods

POLL_S = 0.25


def _deployment_ready(deployment: Any) -> tuple[bool, int]:
    spec_replicas = int(deployment.spec.replicas if deployment.spec.replicas is not None else 1)
    status = deployment.status
    generation = deployment.metadata.generation or 0
    conditions = status.conditions or []
    available = any(c.type == "Available" and c.status == "True" for c in conditions)
    ok = (
        (status.observed_generation or 0) >= generation
        and (status.updated_replicas or 0) >= spec_replicas
        and (status.available_replicas or 0) >= spec_replicas
        and (status.ready_replicas or 0) >= spec_replicas
        and available
    )
    return ok, spec_replicas


def _read_deployment(ns: str, deployment: str) -> Any:
    try:
        return client.AppsV1Api(api_client()).read_namespaced_deployment(deployment, ns)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise ActivityFailed(
            f"reading deployment {deployment!r} in {ns!r} failed: {exc.status} {exc.reason}"
        ) from None


def serving_ready(
    label_selector: str,
    deployment: str,
    ns: str = "default",
    min_ready: int = 1,
    within_s: float = 60.0,
) -> bool:
    """True once ``deployment`` is available and up to date and enough of its pods serve."""
    deadline = time.monotonic() + float(within_s)
    while True:
        found = _read_deployment(ns, deployment)
        if found is not None:
            ok, replicas = _deployment_ready(found)
            serving = [p for p in list_pods(ns, label_selector) if p.serving]
            if ok and len(serving) >= max(replicas, int(min_ready)):
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
