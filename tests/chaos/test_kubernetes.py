"""The Kubernetes variants wired end to end: real ``chaos run`` with chaostoolkit-kubernetes
against a stand-in API server on 127.0.0.1 (no real API server can run on this machine), so
what is checked is the wiring (kubeconfig, context, selector, namespace, judging), not a
real cluster's behaviour."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from harness.chaos.spec import ChaosStep
from harness.chaos.stage import STAGE
from harness.events import FaultInjected, PhaseChanged
from harness.status import Status
from harness.target import KubernetesTarget
from tests.chaos.conftest import PROJECT_ROOT, make_context
from tests.chaos.kube_standin import KubeStandIn


def quick_copy(tmp_path: Path) -> Path:
    """The shipped experiment pauses 15 s after the kill; a copy pausing 1 s keeps it quick."""
    experiment = tmp_path / "pod-kill.yaml"
    text = (PROJECT_ROOT / "chaos/k8s/pod-kill.yaml").read_text()
    experiment.write_text(text.replace("pauses: {after: 15}", "pauses: {after: 1}"))
    return experiment


@pytest.mark.e2e
async def test_k8s_pod_kill_deletes_one_labelled_pod_through_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with KubeStandIn() as api:
        for _ in range(2):
            api.cluster.add_pod("default", {"app": "model-serving"})
        bystander = api.cluster.add_pod("default", {"app": "model-registry"})
        elsewhere = api.cluster.add_pod("kube-system", {"app": "model-serving"})
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        monkeypatch.setenv("SERVING_URL", api.url)
        monkeypatch.setenv("K8S_NAMESPACE", "default")
        kube = KubernetesTarget(
            context="standin",
            kubeconfig=str(kubeconfig),
            allowed_namespaces=("default",),
            allowed_contexts=("standin",),
        )
        experiment = quick_copy(tmp_path)
        step = make_context(
            tmp_path, ChaosStep(name="k8s", experiment=str(experiment)), kubernetes=kube
        )
        async with asyncio.timeout(90):
            outcome = await STAGE.run(step.ctx)

    assert outcome.status is Status.PASS, outcome.summary
    assert len(api.cluster.deleted) == 1
    assert api.cluster.deleted[0] not in (bystander, elsewhere)
    lists = [path for method, path in api.cluster.requests if method == "GET" and "/pods" in path]
    assert lists and all("labelSelector=app%3Dmodel-serving" in p for p in lists), lists
    assert all("/namespaces/default/" in p for _, p in api.cluster.requests if "/pods" in p)
    phases = [m.phase for m in step.ctx.stage.phase_marks]
    assert phases == ["baseline", "fault", "recovery"]
    # chaosk8s does not report through the driver: the fault mark comes from the control.
    assert not any(isinstance(e, FaultInjected) for e in step.events)
    assert sum(isinstance(e, PhaseChanged) for e in step.events) == 3
