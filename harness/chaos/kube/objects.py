"""Chaos Mesh objects in the fault ledger: recorded (context, namespace, kind, name) before
they are created, deleted by the rollback or by ``harness recover``.

Deleting is idempotent: a 404 means the object is gone already (the cluster removed it, or
an earlier delete did), which is what a delete wants. The delete is verified by reading
the object back until it is gone (Chaos Mesh keeps it, with a finalizer, until every pod
is recovered).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from harness.chaos.ledger import FaultKind, FaultRecord, new_record

KIND: FaultKind = "kube-object"
GROUP, VERSION = "chaos-mesh.org", "v1alpha1"
PLURALS = {"NetworkChaos": "networkchaos", "StressChaos": "stresschaos", "PodChaos": "podchaos"}
GONE_WAIT_S = 30.0


@dataclass(frozen=True)
class ChaosObject:
    """One namespaced Chaos Mesh object, enough to find it again from another process."""

    context: str
    namespace: str
    kind: str  # a key of PLURALS
    name: str
    kubeconfig: str = ""

    @property
    def plural(self) -> str:
        return PLURALS[self.kind]

    @property
    def target(self) -> str:
        return f"{self.context}/{self.namespace}/{self.kind}/{self.name}"

    def to_extra(self) -> dict[str, Any]:
        return {
            "context": self.context,
            "namespace": self.namespace,
            "kind": self.kind,
            "name": self.name,
            "group": GROUP,
            "version": VERSION,
            "kubeconfig": self.kubeconfig,
        }


def chaos_object_record(obj: ChaosObject) -> FaultRecord:
    return new_record(KIND, obj.target, extra=obj.to_extra())


def chaos_object_of(record: FaultRecord) -> ChaosObject:
    extra = record.extra
    kind = str(extra.get("kind", ""))
    if kind not in PLURALS:
        raise ValueError(f"ledger entry {record.id}: unknown Chaos Mesh kind {kind!r}")
    return ChaosObject(
        context=str(extra.get("context", "")),
        namespace=str(extra.get("namespace", "")),
        kind=kind,
        name=str(extra.get("name", "")),
        kubeconfig=str(extra.get("kubeconfig", "")),
    )


def delete_object(api_client: Any, obj: ChaosObject, wait_s: float = GONE_WAIT_S) -> str:
    """Delete ``obj`` and wait until it is gone; a 404 counts as done. Raises
    ``kubernetes.client.ApiException`` for anything else (403, 500, ...), TimeoutError when
    it is still there after ``wait_s``."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    api = client.CustomObjectsApi(api_client)
    try:
        api.delete_namespaced_custom_object(GROUP, VERSION, obj.namespace, obj.plural, obj.name)
        detail = "deleted"
    except ApiException as exc:
        if exc.status != 404:
            raise
        return "already gone (404)"
    deadline = time.monotonic() + wait_s
    while True:
        try:
            api.get_namespaced_custom_object(GROUP, VERSION, obj.namespace, obj.plural, obj.name)
        except ApiException as exc:
            if exc.status == 404:
                return detail
            raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"{obj.target} still there {wait_s:.0f}s after delete")
        time.sleep(0.2)


def recovery_client(obj: ChaosObject) -> Any:
    """An API client for ``obj``'s context from the kubeconfig the run was given."""
    from kubernetes import config

    kubeconfig = obj.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    return config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=os.path.expanduser(kubeconfig), context=obj.context
    )


def revert_chaos_object(record: FaultRecord) -> tuple[bool, str]:
    """Delete the object a ledger entry names (``harness recover``, the runner). Never
    raises: (verified, detail)."""
    try:
        obj = chaos_object_of(record)
        detail = delete_object(recovery_client(obj), obj)
    except Exception as exc:  # any failure leaves the entry for the next recover
        return False, f"delete failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return True, f"{obj.kind} {obj.name} {detail}"
