"""Where a Kubernetes experiment acts, as pure functions: the single-context kubeconfig, the
child's environment, the scope refusals, and the dry-run plan naming context and namespace."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.chaos.experiment import load_experiment
from harness.chaos.kube.scope import (
    ScopeError,
    child_env,
    resolve_scope,
    single_context_config,
)
from harness.chaos.plan import describe_plan
from harness.target import KubernetesTarget, Target
from tests.chaos.conftest import PROJECT_ROOT

KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: prod
contexts:
  - {name: prod, context: {cluster: big, user: admin}}
  - {name: staging, context: {cluster: small, user: ci, namespace: ml}}
clusters:
  - {name: big, cluster: {server: "https://prod.example:6443"}}
  - {name: small, cluster: {server: "https://staging.example:6443", certificate-authority: ca.crt}}
users:
  - {name: admin, user: {token: prod-secret}}
  - {name: ci, user: {client-certificate: certs/ci.crt, client-key: /abs/ci.key}}
"""


def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    return path


def test_child_kubeconfig_holds_only_the_named_context(tmp_path: Path) -> None:
    data = single_context_config(kubeconfig(tmp_path), "staging")
    assert [c["name"] for c in data["contexts"]] == ["staging"]
    assert [c["name"] for c in data["clusters"]] == ["small"]
    assert [u["name"] for u in data["users"]] == ["ci"]
    assert data["current-context"] == "staging"
    assert "prod-secret" not in yaml.safe_dump(data)
    cluster, user = data["clusters"][0]["cluster"], data["users"][0]["user"]
    assert cluster["certificate-authority"] == str(tmp_path / "ca.crt")
    assert user["client-certificate"] == str(tmp_path / "certs/ci.crt")
    assert user["client-key"] == "/abs/ci.key"
    with pytest.raises(ScopeError, match="no context named 'dev'"):
        single_context_config(kubeconfig(tmp_path), "dev")


def test_child_env_drops_every_other_way_to_reach_a_cluster(tmp_path: Path) -> None:
    scope = resolve_scope(
        KubernetesTarget(
            namespace="ml",
            context="staging",
            kubeconfig=str(kubeconfig(tmp_path)),
            allowed_namespaces=("ml",),
            allowed_contexts=("staging",),
        )
    )
    parent = {
        "KUBERNETES_HOST": "http://localhost",
        "CHAOSTOOLKIT_IN_POD": "true",
        "KUBERNETES_CONTEXT": "prod",
        "K8S_NAMESPACE": "default",
        "PATH": "/bin",
    }
    env = child_env(parent, scope, tmp_path / "child")
    assert "KUBERNETES_HOST" not in env and "CHAOSTOOLKIT_IN_POD" not in env
    assert env["KUBERNETES_CONTEXT"] == "staging" and env["K8S_NAMESPACE"] == "ml"
    assert env["KUBECONFIG"] == str(tmp_path / "child") and env["PATH"] == "/bin"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"context": None}, "context is not set"),
        ({"allowed_contexts": ()}, "allowed: none"),
        ({"namespace": "kube-system"}, "not in allowed_namespaces"),
        ({"kubeconfig": "/nonexistent/config"}, "fall back to localhost"),
    ],
)
def test_scope_refusals(tmp_path: Path, fields: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "namespace": "ml",
        "context": "staging",
        "kubeconfig": str(kubeconfig(tmp_path)),
        "allowed_namespaces": ("ml",),
        "allowed_contexts": ("staging",),
    }
    with pytest.raises(ScopeError, match=message):
        resolve_scope(KubernetesTarget(**{**base, **fields}))  # type: ignore[arg-type]


def test_dry_run_plan_names_the_targets_context_and_namespace() -> None:
    experiment = load_experiment(PROJECT_ROOT / "chaos/k8s/network-latency.yaml")
    kube = KubernetesTarget(namespace="ml", context="staging", allowed_contexts=("staging",))
    target = Target("kubernetes", "", "", "", kubernetes=kube)
    lines = describe_plan(experiment, target)
    assert lines and all("kubernetes context staging, namespace ml" in line for line in lines)
    assert '"ns": "ml"' in lines[0]
