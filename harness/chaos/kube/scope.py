"""Where a Kubernetes experiment acts: one explicit context, one namespace, nothing else.

``chaos run`` gets a kubeconfig holding only the suite's context (its cluster and user), so
neither an experiment's ``secrets`` nor a stray ``KUBERNETES_CONTEXT`` can reach another
cluster: chaosk8s's ``load_kube_config(context=...)`` fails for any other name. The
fallbacks chaosk8s would use without a kubeconfig (``KUBERNETES_HOST``, in-pod config) are
removed from the child's environment. The namespace reaches the experiment as
``K8S_NAMESPACE``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.target import KubernetesTarget

NAMESPACE_ENV = "K8S_NAMESPACE"
SOURCE_ENV = "HARNESS_KUBECONFIG_SOURCE"
CONTEXT_ENV = "KUBERNETES_CONTEXT"
DROPPED_ENV = (
    "KUBERNETES_HOST",
    "KUBERNETES_API_KEY",
    "KUBERNETES_API_KEY_PREFIX",
    "KUBERNETES_CERT_FILE",
    "KUBERNETES_KEY_FILE",
    "KUBERNETES_USERNAME",
    "KUBERNETES_PASSWORD",
    "KUBERNETES_CA_CERT_FILE",
    "CHAOSTOOLKIT_IN_POD",
)
_PATH_KEYS = ("certificate-authority", "client-certificate", "client-key", "tokenFile")


class ScopeError(ValueError):
    """The Kubernetes target cannot be used as given; the message says why."""


@dataclass(frozen=True)
class KubeScope:
    context: str
    namespace: str
    source_kubeconfig: Path
    allowed_namespaces: tuple[str, ...]


def kubeconfig_source(kube: KubernetesTarget) -> Path:
    configured = kube.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    return Path(configured.split(os.pathsep)[0]).expanduser()


def resolve_scope(kube: KubernetesTarget | None) -> KubeScope:
    """The context and namespace a run may use, or ScopeError saying why not."""
    if kube is None:
        raise ScopeError("a Kubernetes experiment needs the kubernetes target")
    if not kube.context:
        raise ScopeError(
            "target.kubernetes.context is not set: name the context explicitly (the "
            "kubeconfig's current context is never used)"
        )
    if kube.context not in kube.allowed_contexts:
        allowed = ", ".join(kube.allowed_contexts) or "none"
        raise ScopeError(
            f"kubernetes context {kube.context!r} is not in target.kubernetes.allowed_contexts "
            f"(allowed: {allowed})"
        )
    namespaces = kube.allowed_namespaces or (kube.namespace,)
    if kube.namespace not in namespaces:
        raise ScopeError(
            f"namespace {kube.namespace!r} is not in allowed_namespaces ({', '.join(namespaces)})"
        )
    source = kubeconfig_source(kube)
    if not source.is_file():
        raise ScopeError(
            f"no kubeconfig at {source}: chaostoolkit-kubernetes would fall back to localhost"
        )
    return KubeScope(kube.context, kube.namespace, source, namespaces)


def _named(entries: Any, name: str, what: str, source: Path) -> dict[str, Any]:
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return dict(entry)
    raise ScopeError(f"{source}: no {what} named {name!r}")


def _absolute(section: Mapping[str, Any], base: Path) -> dict[str, Any]:
    out = dict(section)
    for key in _PATH_KEYS:
        value = out.get(key)
        if isinstance(value, str) and value and not Path(value).is_absolute():
            out[key] = str((base / value).resolve())
    return out


def single_context_config(source: Path, context: str) -> dict[str, Any]:
    """The kubeconfig reduced to ``context``, its cluster and its user (paths absolute)."""
    try:
        data = yaml.safe_load(source.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ScopeError(f"{source}: cannot read the kubeconfig ({exc})") from None
    if not isinstance(data, dict):
        raise ScopeError(f"{source}: not a kubeconfig")
    ctx = _named(data.get("contexts"), context, "context", source)
    body = ctx.get("context") if isinstance(ctx.get("context"), dict) else {}
    assert isinstance(body, dict)
    cluster = _named(data.get("clusters"), str(body.get("cluster")), "cluster", source)
    user = _named(data.get("users"), str(body.get("user")), "user", source)
    base = source.parent
    cluster["cluster"] = _absolute(cluster.get("cluster") or {}, base)
    user["user"] = _absolute(user.get("user") or {}, base)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": context,
        "contexts": [ctx],
        "clusters": [cluster],
        "users": [user],
    }


def write_child_kubeconfig(scope: KubeScope, path: Path) -> Path:
    """Write the single-context kubeconfig the child uses (mode 0600: it holds credentials)."""
    data = single_context_config(scope.source_kubeconfig, scope.context)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(yaml.safe_dump(data, sort_keys=False))
    return path


def child_env(env: Mapping[str, str], scope: KubeScope, kubeconfig: Path) -> dict[str, str]:
    """``env`` for ``chaos run``: only the single-context kubeconfig, the namespace, and the
    source kubeconfig's path (for ledger records, so ``harness recover`` can reconnect)."""
    out = {k: v for k, v in env.items() if k not in DROPPED_ENV}
    out["KUBECONFIG"] = str(kubeconfig)
    out[CONTEXT_ENV] = scope.context
    out[NAMESPACE_ENV] = scope.namespace
    out[SOURCE_ENV] = str(scope.source_kubeconfig.resolve())
    return out
