"""The chaos stage without a testbed: checks, the allowlist, and fake ``chaos`` executables
(hang, crash, no journal, garbage, a dry-run journal) that must never give PASS."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.chaos.allowlist import BlastRadiusError, check_local_selector, parse_label_selector
from harness.chaos.ledger import read_records
from harness.chaos.spec import ChaosStep
from harness.chaos.stage import STAGE
from harness.config import load_suite
from harness.status import Status
from harness.target import KubernetesTarget
from tests.chaos.conftest import PROJECT_ROOT, make_context

K8S_POD_KILL = "chaos/k8s/pod-kill.yaml"
ALL_EXPERIMENTS = sorted(
    str(p.relative_to(PROJECT_ROOT)) for p in (PROJECT_ROOT / "chaos").rglob("*.yaml")
)


@pytest.mark.parametrize("experiment", ALL_EXPERIMENTS)
def test_shipped_experiments_pass_check(experiment: str) -> None:
    spec = ChaosStep(name="c", experiment=experiment)
    assert STAGE.check(spec, PROJECT_ROOT, PROJECT_ROOT / "suite.yaml") == []


@pytest.mark.parametrize(
    "selector", [None, "", "  ", "tier!=db", "app in (a,b)", "app=model-registry"]
)
def test_local_selector_outside_allowlist_is_refused(selector: str | None) -> None:
    with pytest.raises(BlastRadiusError):
        check_local_selector(selector)


def test_local_selector_for_serving_pods_is_allowed() -> None:
    check_local_selector("app=model-serving")
    check_local_selector("app=model-serving,tier!=db")
    assert len(parse_label_selector("app==model-serving, tier=serving")) == 2


BAD_EXPERIMENT = textwrap.dedent(
    """\
    title: reaches outside the blast radius
    steady-state-hypothesis:
      title: up
      probes:
        - type: probe
          name: health
          tolerance: 200
          provider: {type: python, module: harness.chaos.driver.probes, func: service_healthy}
    method:
      - type: action
        name: kill-the-registry
        provider:
          type: python
          module: harness.chaos.driver.pods
          func: terminate_pods
          arguments: {label_selector: app=model-registry}
      - type: action
        name: no-such-module
        provider: {type: python, module: nowhere.to.be.found, func: f}
      - type: action
        name: no-such-function
        provider: {type: python, module: harness.chaos.driver.pods, func: explode}
    """
)


def test_check_reports_problems_with_file_and_line(tmp_path: Path) -> None:
    experiment = tmp_path / "bad.yaml"
    experiment.write_text(BAD_EXPERIMENT)
    problems = STAGE.check(ChaosStep(name="c", experiment=str(experiment)), tmp_path, tmp_path)
    text = "\n".join(str(p) for p in problems)
    assert "method[0].provider.arguments" in text and "model-serving" in text
    assert "nowhere.to.be.found" in text and "not importable" in text
    assert "no function 'explode'" in text
    assert all(p.file == experiment and p.line for p in problems), text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("title: [unclosed\n", "YAML syntax error"),
        ("- just a list\n", "must be a mapping"),
        ("title: t\nmethod: []\n", "method"),
    ],
)
def test_check_bad_files(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "e.yaml"
    if content is not None:
        path.write_text(content)
    problems = STAGE.check(ChaosStep(name="c", experiment=str(path)), tmp_path, tmp_path)
    assert problems and any(message in str(p) for p in problems), problems


def test_a_chaos_step_refuses_criteria(tmp_path: Path) -> None:
    suite = tmp_path / "suites" / "s.yaml"
    suite.parent.mkdir()
    suite.write_text(
        "name: s\nstages:\n  - name: c\n    steps:\n"
        f"      - name: c\n        kind: chaos\n        experiment: {K8S_POD_KILL}\n"
        "        criteria: [\"p95 < 100ms\"]\n"
    )
    _, problems = load_suite(suite, base_dir=PROJECT_ROOT)
    (problem,) = problems
    assert str(problem).startswith(
        f"{suite}:8: stages[0].steps[0].criteria: 'p95 < 100ms': a chaos step is judged by its "
        "experiment's steady state and by what clients saw during it (rollout_time, "
    ), str(problem)
    assert str(problem).endswith(
        "put phase criteria (phase: fault / recovery, recovery_time) on the load step beside it"
    )


def test_orchestrator_never_imports_chaoslib() -> None:
    code = textwrap.dedent(
        f"""
        import sys, asyncio
        from pathlib import Path
        from harness.chaos.stage import STAGE
        from harness.chaos.spec import ChaosStep
        import harness.chaos.runner, harness.chaos.recovery, harness.chaos.journal
        for e in {ALL_EXPERIMENTS!r}:
            assert STAGE.check(ChaosStep(name="c", experiment=e), Path("."), Path("s.yaml")) == []
        bad = [m for m in sys.modules if m.split(".")[0] in ("chaoslib", "chaosk8s", "kubernetes",
               "chaostoolkit") or m.startswith("harness.chaos.driver")]
        print(bad)
        sys.exit(1 if bad else 0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def fake_chaos(tmp_path: Path, body: str) -> Path:
    """A fake ``chaos`` executable; ``journal`` is the --journal-path it was given."""
    script = tmp_path / "fake-chaos"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, time, json, pathlib\n"
        "args = sys.argv[1:]\n"
        "journal = pathlib.Path(args[args.index('--journal-path') + 1])\n"
        "pathlib.Path(journal.parent / 'fake-ran').write_text('yes')\n" + textwrap.dedent(body)
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def unused_kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig file for runs whose fake `chaos` never connects (port 9: discard)."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: none\n"
        "clusters: [{name: none, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: none, user: {}}]\n"
        "contexts: [{name: none, context: {cluster: none, user: none}}]\n"
    )
    return path


def unused_target(tmp_path: Path, **fields: object) -> KubernetesTarget:
    """A kubernetes target on the unused kubeconfig, its context explicitly allowed."""
    base: dict[str, object] = {
        "context": "none",
        "allowed_contexts": ("none",),
        "kubeconfig": str(unused_kubeconfig(tmp_path)),
    }
    return KubernetesTarget(**{**base, **fields})  # type: ignore[arg-type]


async def test_kubernetes_experiment_without_kubeconfig_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_CHAOS_BIN", str(fake_chaos(tmp_path, "sys.exit(0)\n")))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    spec = ChaosStep(name="c", experiment=K8S_POD_KILL)
    kube = KubernetesTarget(context="none", allowed_contexts=("none",))
    step = make_context(tmp_path, spec, kubernetes=kube)
    async with asyncio.timeout(10):
        outcome = await STAGE.run(step.ctx)
    assert outcome.status is Status.ERROR and "kubeconfig" in outcome.summary
    assert not (step.ctx.artifact_dir / "fake-ran").exists()


DRY_JOURNAL = {
    "experiment": {"title": "t", "dry": "activities", "method": [{}]},
    "status": "completed",
    "deviated": False,
    "steady_states": {
        "before": {"steady_state_met": True, "probes": [{"status": "succeeded"}]},
        "after": {"steady_state_met": True, "probes": [{"status": "succeeded"}]},
    },
    "run": [{"status": "succeeded", "activity": {"type": "action", "name": "x"}}],
    "rollbacks": [],
}

FAKES = {
    "hang": "time.sleep(300)\n",
    "crash": "sys.stderr.write('Traceback: boom\\n'); sys.exit(1)\n",
    "no-journal": "sys.exit(0)\n",
    "garbage": "journal.write_text('{{{ not json'); sys.exit(0)\n",
    "dry-run-journal": f"journal.write_text({json.dumps(json.dumps(DRY_JOURNAL))}); sys.exit(0)\n",
    "interrupted": "journal.write_text(json.dumps({'status': 'interrupted'})); sys.exit(0)\n",
}


@pytest.mark.parametrize("behaviour", sorted(FAKES))
async def test_fake_chaos_is_never_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, behaviour: str
) -> None:
    monkeypatch.setenv("HARNESS_CHAOS_BIN", str(fake_chaos(tmp_path, FAKES[behaviour])))
    spec = ChaosStep(name="c", experiment=K8S_POD_KILL, rollback_grace="1s")
    kube = unused_target(tmp_path)
    step = make_context(tmp_path, spec, kubernetes=kube, deadline_s=9.0)
    async with asyncio.timeout(30):
        outcome = await STAGE.run(step.ctx)
    assert outcome.status is Status.ERROR, outcome.summary
    assert (step.ctx.artifact_dir / "fake-ran").exists()
    assert outcome.summary
    if behaviour == "hang":
        assert "timed out" in outcome.summary


async def test_selector_outside_allowlist_is_refused_before_anything_is_injected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_CHAOS_BIN", str(fake_chaos(tmp_path, "sys.exit(0)\n")))
    experiment = tmp_path / "bad.yaml"
    experiment.write_text(BAD_EXPERIMENT)
    spec = ChaosStep(name="c", experiment=str(experiment))
    step = make_context(tmp_path, spec, manifest_path=tmp_path / "manifest.json")
    async with asyncio.timeout(10):
        outcome = await STAGE.run(step.ctx)
    assert outcome.status is Status.ERROR
    assert "refused before injecting anything" in outcome.summary
    assert "bad.yaml:" in outcome.summary
    assert not (step.ctx.artifact_dir / "fake-ran").exists()
    assert read_records() == [] and step.events == [] and step.ctx.stage.phase_marks == []


async def test_kubernetes_namespace_outside_allowlist_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_CHAOS_BIN", str(fake_chaos(tmp_path, "sys.exit(0)\n")))
    spec = ChaosStep(name="c", experiment=K8S_POD_KILL)
    kube = unused_target(
        tmp_path, namespace="kube-system", allowed_namespaces=("default", "staging")
    )
    step = make_context(tmp_path, spec, kubernetes=kube)
    async with asyncio.timeout(10):
        outcome = await STAGE.run(step.ctx)
    assert outcome.status is Status.ERROR and "kube-system" in outcome.summary
    assert not (step.ctx.artifact_dir / "fake-ran").exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"context": None}, "context is not set"),
        ({"allowed_contexts": ()}, "not in target.kubernetes.allowed_contexts"),
        ({"allowed_contexts": ("staging",)}, "not in target.kubernetes.allowed_contexts"),
    ],
)
async def test_kubernetes_run_needs_an_explicit_allowed_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fields: dict[str, object], message: str
) -> None:
    monkeypatch.setenv("HARNESS_CHAOS_BIN", str(fake_chaos(tmp_path, "sys.exit(0)\n")))
    spec = ChaosStep(name="c", experiment=K8S_POD_KILL)
    step = make_context(tmp_path, spec, kubernetes=unused_target(tmp_path, **fields))
    async with asyncio.timeout(10):
        outcome = await STAGE.run(step.ctx)
    assert outcome.status is Status.ERROR and message in outcome.summary, outcome.summary
    assert not (step.ctx.artifact_dir / "fake-ran").exists()


def test_validate_leaves_kubernetes_namespaces_to_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # `harness validate` does not know the target's allowlist: no false refusal there; the
    # run refuses (test_kubernetes_namespace_outside_allowlist_is_refused).
    monkeypatch.setenv("K8S_NAMESPACE", "staging")
    spec = ChaosStep(name="c", experiment=K8S_POD_KILL)
    assert STAGE.check(spec, PROJECT_ROOT, PROJECT_ROOT / "s.yaml") == []


async def test_missing_chaos_executable_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_CHAOS_BIN", str(tmp_path / "no-such-chaos"))
    spec = ChaosStep(name="c", experiment=K8S_POD_KILL)
    kube = unused_target(tmp_path)
    step = make_context(tmp_path, spec, kubernetes=kube)
    async with asyncio.timeout(10):
        outcome = await STAGE.run(step.ctx)
    assert outcome.status is Status.ERROR and "no-such-chaos" in outcome.summary
