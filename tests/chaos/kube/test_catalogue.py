"""The full ``chaos/k8s/`` catalogue end to end: the real ``chaos run`` with the real
chaostoolkit-kubernetes / kubernetes client, talking HTTP to the stand-in API server
(``tests/chaos/kube_standin.py``; no real API server can run on this machine). Each test
checks the injection itself: what reached the cluster, on which pods, and that it was
removed again."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from harness.chaos.ledger import read_records
from harness.chaos.stage import STAGE
from harness.status import Status
from tests.chaos.conftest import PROJECT_ROOT
from tests.chaos.kube.conftest import CATALOGUE, KubeRun, quick_copy

pytestmark = pytest.mark.e2e


async def run_experiment(kube_run: KubeRun, tmp_path: Path, name: str) -> Any:
    step = kube_run.step(tmp_path, quick_copy(name, tmp_path))
    async with asyncio.timeout(120):
        outcome = await STAGE.run(step.ctx)
    return outcome, step


def serving_pods(kube_run: KubeRun) -> set[str]:
    pods = kube_run.api.cluster.pods.values()
    return {
        f"default/{p.name}" for p in pods if p.owner == "model-serving" and p.namespace == "default"
    }


def created(kube_run: KubeRun, kind: str) -> dict[str, Any]:
    objects = [o for o in kube_run.api.cluster.created_chaos if o["kind"] == kind]
    assert len(objects) == 1, objects
    body = objects[0]
    assert body["spec"].get("duration"), "every Chaos Mesh object carries a duration"
    return body


def rbac_rules() -> set[tuple[str, str, str]]:
    docs = yaml.safe_load_all((PROJECT_ROOT / "deploy/k8s/rbac.yaml").read_text())
    [role] = [d for d in docs if d and d["kind"] == "Role"]
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def permission(method: str, path: str) -> tuple[str, str, str] | None:
    """(apiGroup, resource, verb) RBAC checks for a namespaced request."""
    parts = urlparse(path).path.strip("/").split("/")
    if parts[0] == "api":
        group, rest = "", parts[3:]  # api/v1/namespaces/{ns}/...
    elif parts[0] == "apis":
        group, rest = parts[1], parts[4:]  # apis/{group}/{version}/namespaces/{ns}/...
    else:
        return None  # /health: the Service, not the API
    resource = rest[1] + (f"/{rest[3]}" if len(rest) > 3 else "")
    named = len(rest) > 2
    verb = {"POST": "create", "DELETE": "delete"}.get(method, "get" if named else "list")
    if resource.endswith("/exec"):
        verb = "create"
    return group, resource, verb


def assert_clean(kube_run: KubeRun) -> None:
    assert kube_run.api.cluster.chaos == {}, "the rollback deletes every Chaos Mesh object"
    assert read_records() == [], "nothing left in the fault ledger"
    needed = {permission(m, p) for m, p, _ in kube_run.api.cluster.requests} - {None}
    missing = needed - rbac_rules()
    assert not missing, f"deploy/k8s/rbac.yaml does not grant {sorted(missing)}"


def test_catalogue_is_what_these_tests_cover() -> None:
    assert CATALOGUE == [
        "cpu-stress.yaml",
        "db-connection-loss.yaml",
        "disk-pressure.yaml",
        "network-latency.yaml",
        "pod-kill.yaml",
        "service-unavailable.yaml",
    ]


async def test_pod_kill_deletes_one_serving_pod_and_waits_for_its_replacement(
    kube_run: KubeRun, tmp_path: Path
) -> None:
    before = {p.uid for p in kube_run.api.cluster.pods.values() if p.owner == "model-serving"}
    outcome, step = await run_experiment(kube_run, tmp_path, "pod-kill.yaml")
    assert outcome.status is Status.PASS, outcome.summary
    deleted = kube_run.api.cluster.deleted_pods
    assert len(deleted) == 1 and deleted[0][1] in before
    assert deleted[0][0].startswith("model-serving-")
    after = {p.uid for p in kube_run.api.cluster.pods.values() if p.owner == "model-serving"}
    assert len(after) == 2 and after != before, "a replacement pod (new UID) serves"
    assert [m.phase for m in step.ctx.stage.phase_marks] == ["baseline", "fault", "recovery"]
    assert_clean(kube_run)


async def test_service_unavailable_fails_every_serving_pod_for_its_duration(
    kube_run: KubeRun, tmp_path: Path
) -> None:
    pods = serving_pods(kube_run)
    outcome, _ = await run_experiment(kube_run, tmp_path, "service-unavailable.yaml")
    assert outcome.status is Status.PASS, outcome.summary
    body = created(kube_run, "PodChaos")
    assert body["spec"]["action"] == "pod-failure" and body["spec"]["mode"] == "all"
    assert body["spec"]["selector"] == {
        "namespaces": ["default"],
        "labelSelectors": {"app": "model-serving"},
    }
    assert re.fullmatch(r"harness-serving-unavailable-[0-9a-f]{8}", body["metadata"]["name"])
    injected = outcome.metrics["faults_injected"][0]["target"]
    assert f"on {len(pods)} pod(s)" in injected
    health = [p for m, p, _ in kube_run.api.cluster.requests if p == "/health"]
    assert health, "the serving URL was probed"
    assert_clean(kube_run)


async def test_network_latency_delays_every_serving_pod(kube_run: KubeRun, tmp_path: Path) -> None:
    outcome, _ = await run_experiment(kube_run, tmp_path, "network-latency.yaml")
    assert outcome.status is Status.PASS, outcome.summary
    spec = created(kube_run, "NetworkChaos")["spec"]
    assert spec["action"] == "delay" and spec["mode"] == "all"
    assert spec["delay"]["latency"] == "150ms" and spec["delay"]["jitter"] == "50ms"
    assert "target" not in spec, "no target: every answer of every serving pod is late"
    assert "on 2 pod(s)" in outcome.metrics["faults_injected"][0]["target"]
    assert_clean(kube_run)


async def test_cpu_stress_stresses_every_serving_pod(kube_run: KubeRun, tmp_path: Path) -> None:
    outcome, _ = await run_experiment(kube_run, tmp_path, "cpu-stress.yaml")
    assert outcome.status is Status.PASS, outcome.summary
    spec = created(kube_run, "StressChaos")["spec"]
    assert spec["mode"] == "all" and spec["stressors"] == {"cpu": {"workers": 2, "load": 90}}
    assert "on 2 pod(s)" in outcome.metrics["faults_injected"][0]["target"]
    assert_clean(kube_run)


async def test_db_connection_loss_matches_traffic_to_the_database_service(
    kube_run: KubeRun, tmp_path: Path
) -> None:
    outcome, _ = await run_experiment(kube_run, tmp_path, "db-connection-loss.yaml")
    assert outcome.status is Status.PASS, outcome.summary
    spec = created(kube_run, "NetworkChaos")["spec"]
    assert spec["action"] == "loss" and spec["loss"]["loss"] == "100"
    assert spec["mode"] == "all" and spec["direction"] == "to"
    assert spec["selector"]["labelSelectors"] == {"app": "model-registry"}
    assert spec["externalTargets"] == ["model-registry-db.default.svc.cluster.local"]
    assert "target" not in spec, "no pod-IP target: the Service's ClusterIP is matched"
    assert_clean(kube_run)


async def test_disk_pressure_writes_and_removes_the_ballast_in_the_registry_container(
    kube_run: KubeRun, tmp_path: Path
) -> None:
    outcome, _ = await run_experiment(kube_run, tmp_path, "disk-pressure.yaml")
    assert outcome.status is Status.PASS, outcome.summary
    execs = kube_run.api.cluster.execs
    registry = [p for p in kube_run.api.cluster.pods.values() if p.owner == "model-registry"]
    assert [e[0] for e in execs if "dd " in e[2][-1]] == [registry[0].name]
    assert all(container == "registry" for _, container, _ in execs)
    assert any("rm -f" in argv[-1] for _, _, argv in execs)
    assert registry[0].files == {}, "the ballast is gone again"
    assert outcome.metrics["faults_injected"], "the ballast was reported in place"
    assert_clean(kube_run)
