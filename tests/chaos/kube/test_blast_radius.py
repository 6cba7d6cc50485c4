"""Every blast-radius hole of a Kubernetes experiment is refused before anything is
injected, with file:line: the run is ERROR, ``chaos`` never starts, the stand-in API
server gets no request at all."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from harness.chaos.experiment import check_blast_radius, load_experiment
from harness.chaos.stage import STAGE
from harness.status import Status
from tests.chaos.kube.conftest import KubeRun

HEAD = """\
version: 1.0.0
title: hole
configuration:
  ns: {type: env, key: K8S_NAMESPACE, default: default}
"""
PROBE = """\
steady-state-hypothesis:
  title: ready
  probes:
    - type: probe
      name: ready
      tolerance: true
      provider: {type: python, module: harness.chaos.kube.probes, func: serving_ready,
                 arguments: {label_selector: app=model-serving, deployment: model-serving,
                             ns: "${ns}"}}
"""
KILL = """\
method:
  - type: action
    name: kill
    provider: {type: python, module: harness.chaos.kube.pods, func: kill_pods,
               arguments: {label_selector: app=model-serving, ns: "${ns}"}}
"""


def _method(provider: str) -> str:
    return f"method:\n  - type: action\n    name: act\n    provider: {provider}  # HOLE\n"


def _mesh(args: str) -> str:
    return _method(
        "{type: python, module: chaosk8s.chaosmesh.network.actions, func: add_latency, "
        f"arguments: {{name: x, latency: 10ms, target_mode: null, {args}}}}}"
    )


HOLES: dict[str, tuple[str, str]] = {
    "probe-terminates-every-pod": (
        HEAD
        + PROBE.replace(
            "    - type: probe\n      name: ready",
            "    - type: probe\n      name: kill-all\n      tolerance: true\n"
            "      provider: {type: python, module: chaosk8s.pod.actions, func: terminate_pods,"
            " arguments: {label_selector: app=model-serving, all: true}}  # HOLE\n"
            "    - type: probe\n      name: ready",
        )
        + KILL,
        "may only read",
    ),
    "tolerance-probe-deletes-the-namespace": (
        HEAD
        + PROBE.replace(
            "      tolerance: true\n",
            "      tolerance: {type: probe, name: t, provider: {type: python, module: "
            "chaosk8s.namespace.actions, func: delete_namespace, arguments: {name: default}}}"
            "  # HOLE\n",
        )
        + KILL,
        "may only read",
    ),
    "rollback-without-selector": (
        HEAD
        + PROBE
        + KILL
        + "rollbacks:\n  - type: action\n    name: r\n    provider: {type: python, module: "
        "chaosk8s.pod.actions, func: terminate_pods, arguments: {all: true}}  # HOLE\n",
        "empty label selector",
    ),
    "node-drain": (
        HEAD
        + PROBE
        + _method(
            "{type: python, module: chaosk8s.node.actions, func: drain_nodes, "
            "arguments: {label_selector: pool=serving}}"
        ),
        "node-level action",
    ),
    "namespace-delete": (
        HEAD
        + PROBE
        + _method(
            "{type: python, module: chaosk8s.namespace.actions, func: delete_namespace, "
            "arguments: {name: default}}"
        ),
        "namespace-level action",
    ),
    "not-on-the-allowlist": (
        HEAD
        + PROBE
        + _method(
            "{type: python, module: chaosk8s.pod.actions, func: delete_pods, "
            "arguments: {name: model-serving-0001}}"
        ),
        "not on the Kubernetes allowlist",
    ),
    "other-namespace": (
        HEAD
        + PROBE
        + _method(
            "{type: python, module: harness.chaos.kube.pods, func: kill_pods, "
            "arguments: {label_selector: app=model-serving, ns: kube-system}}"
        ),
        "'kube-system' is not an allowed namespace",
    ),
    "namespaces-selectors": (
        HEAD
        + PROBE
        + _mesh("label_selectors: app=model-serving, namespaces_selectors: kube-system"),
        "namespaces_selectors 'kube-system'",
    ),
    "external-target-everything": (
        HEAD + PROBE + _mesh("label_selectors: app=model-serving, external_targets: 0.0.0.0/0"),
        "is an IP range",
    ),
    "external-target-host": (
        HEAD + PROBE + _mesh("label_selectors: app=model-serving, external_targets: example.com"),
        "a host outside the cluster",
    ),
    "external-target-other-namespace-service": (
        HEAD
        + PROBE
        + _mesh("label_selectors: app=model-serving, external_targets: db.kube-system.svc"),
        "external_targets 'kube-system'",
    ),
    "mesh-selector-double-equals": (
        HEAD + PROBE + _mesh("label_selectors: app==model-serving"),
        "chaosk8s splits on the first '='",
    ),
    "mesh-selector-not-equals": (
        HEAD + PROBE + _mesh("label_selectors: 'app=model-serving,tier!=db'"),
        "chaosk8s splits on the first '='",
    ),
    "pod-selector-only-not-equals": (
        HEAD
        + PROBE
        + _method(
            "{type: python, module: chaosk8s.pod.actions, func: terminate_pods, "
            "arguments: {label_selector: app!=model-registry}}"
        ),
        "no key=value term",
    ),
    "chaosk8s-latency-one-random-target": (
        HEAD
        + PROBE
        + _method(
            "{type: python, module: chaosk8s.chaosmesh.network.actions, func: add_latency, "
            "arguments: {name: x, latency: 10ms, label_selectors: app=model-serving, mode: all}}"
        ),
        "pick a random pod",
    ),
    "exec-without-container": (
        HEAD
        + PROBE
        + _method(
            "{type: python, module: chaosk8s.pod.actions, func: exec_in_pods, "
            "arguments: {label_selector: app=model-registry, all: true, cmd: 'true'}}"
        ),
        "without container_name",
    ),
    "unknown-control": (
        HEAD + "controls:\n  - name: c\n    provider: {type: python, module: chaosaddons.controls."
        "safeguards}  # HOLE\n" + PROBE + KILL,
        "control module",
    ),
    "process-provider": (
        HEAD
        + PROBE
        + KILL.replace(
            "method:\n",
            "method:\n  - type: action\n    name: p\n"
            "    provider: {type: process, path: kubectl, arguments: "
            "'delete ns default'}  # HOLE\n",
        ),
        "process provider",
    ),
    "activity-secrets": (
        HEAD
        + PROBE
        + "method:\n  - type: action\n    name: kill\n    secrets: [k8s]\n    provider: {type: "
        "python, module: harness.chaos.kube.pods, func: kill_pods, arguments: {label_selector: "
        "app=model-serving}}  # HOLE\n",
        "secrets could point chaosk8s",
    ),
}


def _expected_line(text: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if "# HOLE" in line)


@pytest.mark.parametrize("hole", sorted(HOLES))
async def test_hole_is_refused_before_anything_is_injected(
    hole: str, kube_run: KubeRun, tmp_path: Path
) -> None:
    text, why = HOLES[hole]
    path = tmp_path / f"{hole}.yaml"
    path.write_text(text)
    step = kube_run.step(tmp_path, path)
    async with asyncio.timeout(20):
        outcome = await STAGE.run(step.ctx)
    assert outcome.status is Status.ERROR, outcome.summary
    assert "refused before injecting anything" in outcome.summary
    assert f"{path}:{_expected_line(text)}:" in outcome.summary, outcome.summary
    assert why in outcome.summary, outcome.summary
    assert kube_run.api.cluster.requests == [], "nothing reached the cluster"
    assert not (step.ctx.artifact_dir / "journal.json").exists(), "chaos never started"


def test_experiment_secrets_cannot_change_the_connection(tmp_path: Path) -> None:
    path = tmp_path / "secrets.yaml"
    path.write_text(HEAD + "secrets:\n  k8s:\n    KUBERNETES_CONTEXT: prod\n" + PROBE + KILL)
    problems = check_blast_radius(load_experiment(path), allowed_namespaces=("default",))
    assert [p.field for p in problems] == ["secrets.k8s.KUBERNETES_CONTEXT"]
    assert "change where chaosk8s connects" in problems[0].message and problems[0].line == 7


def test_suite_can_allow_a_node_action_by_name(tmp_path: Path) -> None:
    path = tmp_path / "drain.yaml"
    text, _ = HOLES["node-drain"]
    path.write_text(text)
    experiment = load_experiment(path)
    assert check_blast_radius(experiment, allowed_namespaces=("default",))
    allowed = ("chaosk8s.node.actions.drain_nodes",)
    assert (
        check_blast_radius(experiment, allowed_namespaces=("default",), allowed_actions=allowed)
        == []
    )


def test_pod_selector_with_double_equals_is_accepted_for_the_api(tmp_path: Path) -> None:
    """The API server reads ``==`` as ``=``; only Chaos Mesh maps break on it."""
    path = tmp_path / "eq.yaml"
    path.write_text(HEAD + PROBE + KILL.replace("app=model-serving", "app==model-serving"))
    assert check_blast_radius(load_experiment(path), allowed_namespaces=("default",)) == []


def test_shipped_catalogue_is_within_the_blast_radius() -> None:
    from tests.chaos.conftest import PROJECT_ROOT

    for path in sorted((PROJECT_ROOT / "chaos/k8s").glob("*.yaml")):
        experiment = load_experiment(path)
        assert experiment.uses_kubernetes and experiment.reports_injection, path
        assert (
            check_blast_radius(
                experiment, allowed_namespaces=("default",), env={"K8S_NAMESPACE": "default"}
            )
            == []
        ), path
