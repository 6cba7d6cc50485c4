"""The cluster as activities inside ``chaos run`` see it: the connection chaosk8s makes
(the run's single-context kubeconfig), the context and namespace, and the pods a selector
picks as Kubernetes would count them (Terminating and Evicted pods are not serving).

Runs inside ``chaos run`` only (imports chaosk8s and the kubernetes client)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from chaosk8s import create_k8s_api_client
from chaoslib.exceptions import ActivityFailed
from kubernetes import client

from harness.chaos.kube.scope import CONTEXT_ENV, SOURCE_ENV


def api_client() -> Any:
    """chaosk8s's own connection (KUBECONFIG + KUBERNETES_CONTEXT set by the runner)."""
    return create_k8s_api_client()


def current_context() -> str:
    context = os.environ.get(CONTEXT_ENV, "")
    if not context:
        raise ActivityFailed(f"env {CONTEXT_ENV} is not set: the run names its context")
    return context


def source_kubeconfig() -> str:
    return os.environ.get(SOURCE_ENV) or os.environ.get("KUBECONFIG", "")


@dataclass(frozen=True)
class PodState:
    name: str
    uid: str
    phase: str
    ready: bool
    terminating: bool
    evicted: bool
    containers: tuple[str, ...]

    @property
    def serving(self) -> bool:
        return self.phase == "Running" and self.ready and not self.terminating


def pod_state(pod: Any) -> PodState:
    status = pod.status
    conditions = (status.conditions or []) if status else []
    ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
    phase = (status.phase if status else "") or ""
    reason = (status.reason if status else "") or ""
    return PodState(
        name=pod.metadata.name,
        uid=pod.metadata.uid or "",
        phase=phase,
        ready=ready,
        terminating=pod.metadata.deletion_timestamp is not None,
        evicted=phase == "Failed" and reason == "Evicted",
        containers=tuple(c.name for c in (pod.spec.containers if pod.spec else []) or []),
    )


def list_pods(ns: str, label_selector: str) -> list[PodState]:
    """Pods by selector; raises ActivityFailed for a 403 (RBAC) or any API error: a
    missing permission is not a sick system."""
    from kubernetes.client.exceptions import ApiException

    try:
        pods = client.CoreV1Api(api_client()).list_namespaced_pod(ns, label_selector=label_selector)
    except ApiException as exc:
        raise ActivityFailed(
            f"listing pods {label_selector!r} in {ns!r} failed: {exc.status} {exc.reason}"
        ) from None
    return [pod_state(p) for p in pods.items]


def mesh_selector_string(selectors: str | dict[str, str]) -> str:
    """A Chaos Mesh label map (or ``k=v,...``) as an API label selector."""
    if isinstance(selectors, dict):
        return ",".join(f"{k}={v}" for k, v in selectors.items())
    return selectors


def mesh_label_map(selectors: str | dict[str, str]) -> dict[str, str]:
    if isinstance(selectors, dict):
        return dict(selectors)
    pairs = (term.split("=", 1) for term in selectors.split(",") if term.strip())
    return {key.strip(): value.strip() for key, value in pairs}
