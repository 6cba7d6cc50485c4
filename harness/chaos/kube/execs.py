"""Exec into a pod's container and read its exit status; the ``kube-ballast`` ledger kind.

Used inside ``chaos run`` (the ballast actions) and by ``harness recover`` (deleting a
ballast a killed run left); imports the kubernetes client lazily, never chaoslib.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from typing import Any

from harness.chaos.ledger import FaultKind, FaultRecord, new_record

BALLAST_KIND: FaultKind = "kube-ballast"
EXEC_TIMEOUT_S = 60


@dataclass(frozen=True)
class Ballast:
    context: str
    namespace: str
    container: str
    path: str
    pods: tuple[str, ...]
    kubeconfig: str = ""


def ballast_record(ballast: Ballast) -> FaultRecord:
    return new_record(
        BALLAST_KIND,
        f"{ballast.context}/{ballast.namespace}: {ballast.path} in {len(ballast.pods)} pod(s)",
        file_path=ballast.path,
        extra={
            "context": ballast.context,
            "namespace": ballast.namespace,
            "container": ballast.container,
            "path": ballast.path,
            "pods": list(ballast.pods),
            "kubeconfig": ballast.kubeconfig,
        },
    )


def exec_in(
    api_client: Any, ns: str, pod: str, container: str, argv: list[str]
) -> tuple[int, str, str]:
    """Run ``argv`` in ``pod``/``container``; (exit code, stdout, stderr)."""
    from kubernetes import client, stream

    v1 = client.CoreV1Api(api_client)
    resp = stream.stream(
        v1.connect_get_namespaced_pod_exec,
        pod,
        ns,
        container=container,
        command=argv,
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    resp.run_forever(timeout=EXEC_TIMEOUT_S)
    out = resp.read_stdout() or ""
    err = resp.read_stderr() or ""
    code = resp.returncode
    resp.close()
    return (int(code) if code is not None else -1), out, err


def remove_ballast(api_client: Any, record: FaultRecord) -> tuple[bool, str]:
    """``rm`` the ballast in every pod that still exists; verified by the shell's answer."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    extra = record.extra
    ns, container, path = str(extra["namespace"]), str(extra["container"]), str(extra["path"])
    quoted = shlex.quote(path)
    script = f"rm -f {quoted} && test ! -e {quoted} && echo gone"
    v1 = client.CoreV1Api(api_client)
    removed, gone = 0, 0
    for pod in extra.get("pods") or []:
        try:
            v1.read_namespaced_pod(str(pod), ns)
        except ApiException as exc:
            if exc.status == 404:
                gone += 1
                continue
            raise
        rc, out, err = exec_in(api_client, ns, str(pod), container, ["sh", "-c", script])
        if rc != 0 or out.strip() != "gone":
            return False, f"{pod}: exit {rc} {err.strip()[:100]}"
        removed += 1
    return True, f"ballast {path} deleted in {removed} pod(s), {gone} pod(s) gone"


def revert_ballast(record: FaultRecord) -> tuple[bool, str]:
    """``harness recover``: delete a ballast a killed run left. Never raises."""
    try:
        from kubernetes import config

        kubeconfig = str(record.extra.get("kubeconfig") or os.environ.get("KUBECONFIG", ""))
        api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=os.path.expanduser(kubeconfig or "~/.kube/config"),
            context=str(record.extra.get("context")),
        )
        return remove_ballast(api_client, record)
    except Exception as exc:  # the entry stays for the next recover
        return False, f"ballast delete failed: {type(exc).__name__}: {str(exc)[:200]}"
