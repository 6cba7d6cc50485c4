"""deploy/k8s: validated offline against the Kubernetes OpenAPI schemas (kubernetes-validate),
consistent with each other and with the suite they run, and the commands their containers
run started for real on 127.0.0.1 (no cluster can run here: the Service DNS names, ports
and mount paths are the only things replaced)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from harness.load.spec import LoadStep
from harness.load.stage import STAGE
from harness.status import Status
from harness.target import Target
from tests.load.conftest import StandIn, free_port, step_context, wait_port

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BIN = Path(sys.executable).parent
SUITE = ROOT / "suites" / "nightly-kubernetes.yaml"
# chaostoolkit-kubernetes functions used by chaos/k8s/ -> (resource, verb) the Role must grant
CHAOS_NEEDS = {
    "terminate_pods": [("pods", "list"), ("pods", "delete")],
    "pods_in_phase": [("pods", "list")],
    "count_min_pods": [("pods", "list")],
    "exec_in_pods": [("pods", "list"), ("pods/exec", "create")],
    "add_latency": [("networkchaos", "create")],
    "set_loss": [("networkchaos", "create")],
    "delete_network_fault": [("networkchaos", "delete")],
    "delete_stressor": [("stresschaos", "delete")],
    # harness.chaos.kube (what chaos/k8s/ calls; the catalogue test checks every request)
    "kill_pods": [("pods", "list"), ("pods", "delete")],
    "serving_ready": [("deployments", "get"), ("pods", "list")],
    "fill_volume": [("pods", "list"), ("pods/exec", "create")],
    "free_volume": [("pods/exec", "create")],
    "network_delay": [("networkchaos", "create"), ("pods", "list")],
    "network_loss": [("networkchaos", "create"), ("pods", "list")],
    "stress_cpu": [("stresschaos", "create"), ("pods", "list")],
    "pod_failure": [("podchaos", "create"), ("pods", "list")],
    "await_recovered": [],
    "delete_chaos": [("networkchaos", "delete"), ("stresschaos", "delete"), ("podchaos", "delete")],
}


def documents() -> list[dict[str, Any]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        found.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return found


def one(kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, (kind, name)
    return matches[0]


def kubernetes_validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "kubernetes-validate"), "--strict", *map(str, paths)],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_every_manifest_matches_the_kubernetes_schemas() -> None:
    paths = sorted(K8S.glob("*.yaml"))
    assert len(paths) >= 5
    checked = kubernetes_validate(*paths)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("passed") == len(documents())


def test_the_validator_rejects_a_misspelt_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n"
        "  replica: 2\n  selector: {matchLabels: {a: b}}\n"
        "  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}\n"
    )
    assert kubernetes_validate(bad).returncode != 0


def test_everything_lives_in_one_namespace_and_rbac_stays_there() -> None:
    for doc in documents():
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "harness", doc["metadata"]["name"]
        assert doc["kind"] not in ("ClusterRole", "ClusterRoleBinding")
    binding = one("RoleBinding", "harness-chaos")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "harness-chaos"
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "harness", "namespace": "harness"}
    ]
    cron = one("CronJob", "harness-nightly")
    assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["serviceAccountName"] == (
        "harness"
    )


def test_the_chaos_role_grants_what_the_experiments_use_and_no_more() -> None:
    granted = {
        (resource, verb)
        for rule in one("Role", "harness-chaos")["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    used = set()
    for path in (ROOT / "chaos" / "k8s").glob("*.yaml"):
        for func in _chaosk8s_functions(yaml.safe_load(path.read_text())):
            assert func in CHAOS_NEEDS, f"{path.name} uses {func}: extend the Role"
            used.update(CHAOS_NEEDS[func])
    assert used, "no Kubernetes chaos function found in chaos/k8s/"
    assert used <= granted
    reads = {(r, "get") for r, _ in used}
    assert granted <= used | reads  # nothing beyond what is used (and reading it back)


def _chaosk8s_functions(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        module = str(node.get("module", ""))
        if module.startswith(("chaosk8s", "harness.chaos.kube")) and "func" in node:
            yield str(node["func"])
        for value in node.values():
            yield from _chaosk8s_functions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _chaosk8s_functions(value)


def test_workers_master_service_and_suite_agree() -> None:
    suite = yaml.safe_load(SUITE.read_text())
    workers = suite["stages"][0]["steps"][0]["workers"]
    service = one("Service", "harness-locust-master")
    cron = one("CronJob", "harness-nightly")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    port = service["spec"]["ports"][0]
    assert port["port"] == workers["bind_port"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]}[port["targetPort"]] == (
        workers["bind_port"]
    )
    assert container["args"][:2] == ["run", "suites/nightly-kubernetes.yaml"]
    deployment = one("Deployment", "locust-worker")
    assert deployment["spec"]["replicas"] == workers["expect"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["LOCUST_MASTER_NODE_HOST"] == service["metadata"]["name"]
    assert int(env["LOCUST_MASTER_NODE_PORT"]) == workers["bind_port"]


def test_the_nightly_kubernetes_suite_validates() -> None:
    checked = subprocess.run(
        [str(BIN / "harness"), "validate", str(SUITE)],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _container(kind: str, name: str) -> dict[str, Any]:
    spec = one(kind, name)["spec"]
    spec = spec["jobTemplate"]["spec"] if kind == "CronJob" else spec
    containers: list[dict[str, Any]] = spec["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _local_env(container: dict[str, Any], replace: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for entry in container.get("env", []):
        env[entry["name"]] = replace.get(entry["name"], entry["value"])
    return env


@pytest.mark.e2e
@pytest.mark.timeout(120)
async def test_the_worker_deployment_command_joins_a_harness_master(tmp_path: Path) -> None:
    """The Deployment's exact command and args, with its env; only the master's address
    (a Service DNS name) and the emptyDir path are local ones."""
    container = _container("Deployment", "locust-worker")
    server = StandIn()
    port = free_port()
    spec = LoadStep.model_validate({
        "name": "distributed", "locustfile": "loadtests/inference.py", "users": 2,
        "spawn_rate": 2, "duration": "4s", "stop_timeout": "1s",
        "workers": {"expect": 1, "bind_host": "127.0.0.1", "bind_port": port, "max_wait": "30s"},
        "env": {"HARNESS_THINK_TIME_S": "0.1"}, "criteria": ["error_rate < 1%"],
    })
    ctx, _ = step_context(tmp_path, spec, Target("external", server.url, server.url, server.url))
    work = tmp_path / "worker-emptydir"
    work.mkdir()
    env = _local_env(container, {
        "LOCUST_MASTER_NODE_HOST": "127.0.0.1", "LOCUST_MASTER_NODE_PORT": str(port),
        "TMPDIR": str(work),
    })
    worker = None
    try:
        async with asyncio.timeout(90):
            step = asyncio.create_task(STAGE.run(ctx))
            await asyncio.to_thread(wait_port, port, 30.0)
            log = (tmp_path / "worker.log").open("wb")
            worker = await asyncio.create_subprocess_exec(
                *container["command"], *container["args"], cwd=work, env=env,
                stdout=log, stderr=subprocess.STDOUT,
            )
            outcome = await step
            await asyncio.wait_for(worker.wait(), 20)  # the master tells it to quit
    finally:
        if worker is not None and worker.returncode is None:
            worker.kill()
            await worker.wait()
        server.stop()
    assert outcome.status is Status.PASS, (outcome, (tmp_path / "worker.log").read_text())
    assert outcome.metrics["overall"]["requests"] == outcome.metrics["locust_requests"] > 0
    # the downloaded locustfile landed in the worker's own TMPDIR, not the shared /tmp
    assert (work / "inference.py").exists(), sorted(p.name for p in work.iterdir())


@pytest.fixture
def testbed_pods(tmp_path: Path) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    yield started
    for _, proc in started:
        proc.terminate()
    for _, proc in started:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_the_testbed_deployments_commands_serve(
    tmp_path: Path, testbed_pods: list[tuple[str, subprocess.Popen[bytes]]]
) -> None:
    """registry, serving and orchestrator started with their Deployment's command and args
    (ports, mount paths and the registry's Service name made local)."""
    tokens = {"read": "r-token", "write": "w-token", "admin": "a-token"}
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "tokens.json").write_text(json.dumps(tokens))
    ports = {name: free_port() for name in ("model-registry", "model-serving",
                                            "pipeline-orchestrator")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    for name in ports:
        container = _container("Deployment", name)
        swap = {
            "0.0.0.0": "127.0.0.1", "8000": str(ports[name]),
            "/etc/testbed/tokens.json": str(tmp_path / "etc" / "tokens.json"),
            "http://model-registry:8000": urls["model-registry"],
        }
        args = [swap.get(a, a.replace("/var/lib/testbed", str(tmp_path / name)))
                for a in container["args"]]
        argv = [sys.executable if container["command"][0] == "python" else container["command"][0],
                *container["command"][1:], *args]
        log = (tmp_path / f"{name}.log").open("wb")
        testbed_pods.append((name, subprocess.Popen(
            argv, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log, stderr=subprocess.STDOUT,
        )))
    deadline = time.monotonic() + 120
    for name, url in urls.items():
        while True:
            try:
                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / f"{name}.log").read_text()[-2000:]
            time.sleep(0.25)
    metrics = httpx.get(urls["model-serving"] + "/metrics", timeout=5).text
    assert 'ml_predictions_total{model="churn-classifier",status="500",version="1.0.0"} 0.0' in (
        metrics
    )
    predict = httpx.post(urls["model-serving"] + "/predict", json={"features": [0.0] * 8})
    assert predict.status_code == 200, predict.text
    registry = httpx.get(urls["model-registry"] + "/metrics", timeout=5).text
    assert 'http_requests_total{method="GET",route="/health",status="500"} 0.0' in registry
