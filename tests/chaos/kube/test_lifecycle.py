"""What changes a verdict on a real cluster, run end to end (real ``chaos run``, real
chaosk8s and kubernetes client, the stand-in API server): an injection that did not
happen, an object already gone at rollback, leftovers and names, where the run acts, and
probes that follow a pod's lifecycle (Terminating, slow replacement, Evicted, RBAC 403)."""

from __future__ import annotations

import asyncio
import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.chaos.ledger import FaultRecord, read_records
from harness.chaos.stage import STAGE
from harness.status import Status
from harness.target import KubernetesTarget
from tests.chaos.kube.conftest import KubeRun, platform_cluster, quick_copy
from tests.chaos.kube_standin import KubeStandIn

pytestmark = pytest.mark.e2e


async def run(kube_run: KubeRun, tmp_path: Path, experiment: Path, **target: Any) -> Any:
    step = kube_run.step(tmp_path, experiment, **target)
    async with asyncio.timeout(120):
        return await STAGE.run(step.ctx), step


def edited(name: str, tmp_path: Path, *pairs: tuple[str, str]) -> Path:
    path = quick_copy(name, tmp_path)
    text = path.read_text()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)
    return path


async def test_chaos_mesh_that_never_injects_is_error_and_still_cleaned_up(
    kube_run: KubeRun, tmp_path: Path
) -> None:
    kube_run.api.cluster.mesh_broken = True
    experiment = edited(
        "network-latency.yaml",
        tmp_path,
        ("duration: 2s, ns:", "duration: 2s, inject_timeout_s: 2, ns:"),
        # The object never injected is never "recovered" either: the wait for that (the
        # next action of the method) would sit out its 30 s.
        ("within_s: 30}", "within_s: 3}"),
    )
    outcome, _ = await run(kube_run, tmp_path, experiment)
    assert outcome.status is Status.ERROR, outcome.summary
    assert "did not report AllInjected" in outcome.summary
    assert kube_run.api.cluster.chaos == {} and read_records() == []


async def test_object_gone_before_the_rollback_counts_as_deleted(
    kube_run: KubeRun, tmp_path: Path
) -> None:
    kube_run.api.cluster.forget_recovered = True
    outcome, _ = await run(kube_run, tmp_path, quick_copy("cpu-stress.yaml", tmp_path))
    assert outcome.status is Status.PASS, outcome.summary
    deletes = [
        p for m, p, _ in kube_run.api.cluster.requests if m == "DELETE" and "stresschaos" in p
    ]
    assert deletes, "the rollback asked for the delete and took the 404 as done"
    assert read_records() == []


async def test_each_run_creates_a_new_uniquely_named_object_despite_a_leftover(
    kube_run: KubeRun, tmp_path: Path
) -> None:
    from tests.chaos.kube_model import ChaosObject

    leftover = {"kind": "NetworkChaos", "metadata": {"name": "harness-serving-latency"}, "spec": {}}
    cluster = kube_run.api.cluster
    cluster.chaos[("default", "networkchaos", "harness-serving-latency")] = ChaosObject(
        "NetworkChaos", "default", leftover, 0.0
    )
    outcome, _ = await run(kube_run, tmp_path, quick_copy("network-latency.yaml", tmp_path))
    assert outcome.status is Status.PASS, outcome.summary
    names = [b["metadata"]["name"] for b in cluster.created_chaos]
    assert len(names) == 1 and all(
        re.fullmatch(r"harness-serving-latency-[0-9a-f]{8}", n) for n in names
    )
    assert list(cluster.chaos) == [("default", "networkchaos", "harness-serving-latency")]


async def test_ledger_entry_is_durable_before_the_object_is_created(
    kube_run: KubeRun, tmp_path: Path
) -> None:
    seen: list[list[FaultRecord]] = []

    def at_create(body: dict[str, Any]) -> None:
        seen.append([r for _, r in read_records() if isinstance(r, FaultRecord)])
        assert body["spec"]["duration"]

    kube_run.api.cluster.on_create.append(at_create)
    outcome, _ = await run(kube_run, tmp_path, quick_copy("network-latency.yaml", tmp_path))
    assert outcome.status is Status.PASS, outcome.summary
    name = kube_run.api.cluster.created_chaos[0]["metadata"]["name"]
    [records] = seen
    assert [
        (r.kind, r.extra["context"], r.extra["namespace"], r.extra["kind"], r.extra["name"])
        for r in records
    ] == [("kube-object", "standin", "default", "NetworkChaos", name)]
    assert records[0].extra["kubeconfig"] == str(kube_run.kubeconfig.resolve())


async def test_the_targets_namespace_reaches_the_experiment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("K8S_NAMESPACE", "default")  # the caller's env does not decide
    with KubeStandIn(platform_cluster("ml"), serving=("ml", "app=model-serving")) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        monkeypatch.setenv("SERVING_URL", api.url)
        target = KubernetesTarget(
            namespace="ml",
            context="standin",
            kubeconfig=str(kubeconfig),
            allowed_contexts=("standin",),
        )
        kube_run = KubeRun(api, kubeconfig, target)
        outcome, _ = await run(kube_run, tmp_path, quick_copy("pod-kill.yaml", tmp_path))
    assert outcome.status is Status.PASS, outcome.summary
    assert next(n for n, _ in api.cluster.deleted_pods).startswith("model-serving-")
    paths = [p for _, p, _ in api.cluster.requests if "/namespaces/" in p]
    assert paths and all("/namespaces/ml/" in p for p in paths), paths


async def test_child_gets_a_kubeconfig_holding_only_the_suites_context(
    kube_run: KubeRun, tmp_path: Path
) -> None:
    source = json.loads(kube_run.kubeconfig.read_text())
    assert [c["name"] for c in source["contexts"]] == ["standin", "prod"]
    outcome, step = await run(kube_run, tmp_path, quick_copy("pod-kill.yaml", tmp_path))
    assert outcome.status is Status.PASS, outcome.summary
    child = step.ctx.work_dir / "kubeconfig"
    data = yaml.safe_load(child.read_text())
    assert [c["name"] for c in data["contexts"]] == ["standin"]
    assert data["current-context"] == "standin"
    assert stat.S_IMODE(child.stat().st_mode) == 0o600
    assert child not in outcome.artifacts, "credentials never go to the report"


async def test_terminating_pods_are_not_counted(kube_run: KubeRun, tmp_path: Path) -> None:
    """The killed pod stays listed (phase Running) for its 30 s grace and no replacement
    comes: counting it would PASS; the probe sees one serving pod of two: FAIL."""
    kube_run.api.cluster.schedule_delay_s = 3600
    experiment = edited(
        "pod-kill.yaml",
        tmp_path,
        ("grace_period: 0", "grace_period: 30"),
        ("within_s: 60", "within_s: 3"),
    )
    outcome, _ = await run(kube_run, tmp_path, experiment)
    assert outcome.status is Status.FAIL, outcome.summary
    assert "deviated" in outcome.summary
    terminating = [p for p in kube_run.api.cluster.pods.values() if p.deleted_at is not None]
    assert len(terminating) == 1, "the killed pod was still Terminating when judged"


async def test_slow_replacement_is_waited_for(kube_run: KubeRun, tmp_path: Path) -> None:
    """Replacement scheduled after 1 s and Ready 4 s later: still Pending when the method
    ends; the probe waits (within its deadline) instead of failing."""
    kube_run.api.cluster.schedule_delay_s = 1.0
    kube_run.api.cluster.ready_delay_s = 4.0
    outcome, _ = await run(kube_run, tmp_path, quick_copy("pod-kill.yaml", tmp_path))
    assert outcome.status is Status.PASS, outcome.summary
    after = [r for r in outcome.criteria if "after" in r.name and "deployment" in r.name]
    assert after and after[0].status is Status.PASS


async def test_evicted_pods_do_not_block_the_steady_state(
    kube_run: KubeRun, tmp_path: Path
) -> None:
    kube_run.api.cluster.add_pod(
        "default", {"app": "model-serving"}, evicted=True, containers=("serving",)
    )
    outcome, _ = await run(kube_run, tmp_path, quick_copy("service-unavailable.yaml", tmp_path))
    assert outcome.status is Status.PASS, outcome.summary
    assert "on 2 pod(s)" in outcome.metrics["faults_injected"][0]["target"], "not the Evicted one"


async def test_forbidden_namespace_is_error_not_fail(kube_run: KubeRun, tmp_path: Path) -> None:
    kube_run.api.cluster.forbidden.add("default")
    outcome, _ = await run(kube_run, tmp_path, quick_copy("pod-kill.yaml", tmp_path))
    assert outcome.status is Status.ERROR, outcome.summary
    assert "steady state not met before" in outcome.summary
    assert "403" in json.dumps([r.reason for r in outcome.criteria])
    assert kube_run.api.cluster.deleted_pods == []
