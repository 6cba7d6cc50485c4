"""Shared set-up for the Kubernetes chaos tests: a stand-in cluster shaped like the
platform (serving Deployment of 2, registry of 1, a database pod, bystanders), a kubeconfig
pointing at it, the kubernetes target, and quick copies of the shipped experiments."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.chaos.spec import ChaosStep
from harness.target import KubernetesTarget
from tests.chaos.conftest import PROJECT_ROOT, StepHarness, make_context
from tests.chaos.kube_model import Cluster
from tests.chaos.kube_standin import KubeStandIn

CATALOGUE = sorted(p.name for p in (PROJECT_ROOT / "chaos/k8s").glob("*.yaml"))


def platform_cluster(ns: str = "default") -> Cluster:
    cluster = Cluster()
    cluster.add_deployment(ns, "model-serving", {"app": "model-serving"}, 2, ("serving",))
    cluster.add_deployment(ns, "model-registry", {"app": "model-registry"}, 1, ("registry",))
    cluster.add_deployment(ns, "model-registry-db", {"app": "model-registry-db"}, 1, ("db",))
    cluster.add_pod(ns, {"app": "bystander"})
    cluster.add_pod("kube-system", {"app": "model-serving"}, containers=("serving",))
    return cluster


def quick_copy(name: str, tmp_path: Path) -> Path:
    """A shipped experiment with 1 s pauses and 2 s fault durations (same structure)."""
    text = (PROJECT_ROOT / "chaos/k8s" / name).read_text()
    text = re.sub(r"pauses: \{after: \d+\}", "pauses: {after: 1}", text)
    text = re.sub(r"duration: \d+s", "duration: 2s", text)
    path = tmp_path / name
    path.write_text(text)
    return path


@dataclass
class KubeRun:
    api: KubeStandIn
    kubeconfig: Path
    target: KubernetesTarget

    def step(
        self, tmp_path: Path, experiment: Path, *, name: str = "k8s", **target: object
    ) -> StepHarness:
        kube = self.target
        if target:
            kube = KubernetesTarget(**{**kube.__dict__, **target})  # type: ignore[arg-type]
        spec = ChaosStep(name=name, experiment=str(experiment))
        return make_context(tmp_path, spec, kubernetes=kube)


@pytest.fixture
def kube_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeRun]:
    with KubeStandIn(platform_cluster()) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", extra_contexts=("prod",))
        monkeypatch.setenv("SERVING_URL", api.url)
        monkeypatch.delenv("K8S_NAMESPACE", raising=False)
        monkeypatch.delenv("KUBERNETES_CONTEXT", raising=False)
        target = KubernetesTarget(
            namespace="default",
            context="standin",
            kubeconfig=str(kubeconfig),
            allowed_namespaces=("default",),
            allowed_contexts=("standin",),
        )
        yield KubeRun(api, kubeconfig, target)
