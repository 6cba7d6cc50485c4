"""A killed run's Chaos Mesh object is deleted by ``harness recover`` (real ``harness run``
and ``chaos run`` processes, SIGKILLed mid-experiment; the stand-in API server), and
``harness recover`` does not call the ledger clean while an object could not be deleted."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.chaos.kube.objects import ChaosObject, chaos_object_record
from harness.chaos.ledger import FaultRecord, read_records, write_record
from tests.chaos.conftest import PROJECT_ROOT
from tests.chaos.kube.conftest import KubeRun, quick_copy
from tests.chaos.kube_model import ChaosObject as StandInObject

SUITE = """\
name: k8s-kill
target:
  kind: kubernetes
  external: {{serving_url: "{url}", registry_url: "{url}"}}
  kubernetes: {{namespace: default, context: standin, kubeconfig: "{kubeconfig}",
               allowed_contexts: [standin]}}
stages:
  - name: chaos
    steps:
      - {{name: latency, kind: chaos, experiment: "{experiment}", timeout: 3m}}
"""


def harness(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def orphaned(obj: ChaosObject) -> FaultRecord:
    """A ledger entry as a killed ``chaos run`` leaves it (no live owner to wait for)."""
    return dataclasses.replace(chaos_object_record(obj), owner_pid=0)


def own_env(state_dir: Path) -> dict[str, str]:
    return {**os.environ, "HARNESS_STATE_DIR": str(state_dir), "PYTHONPATH": str(PROJECT_ROOT)}


def wait_for_injection(kube_run: KubeRun, deadline_s: float) -> FaultRecord:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        records = [r for _, r in read_records() if isinstance(r, FaultRecord)]
        injected = [o for o in kube_run.api.cluster.chaos.values() if o.injected_at]
        if records and injected:
            return records[0]
        time.sleep(0.1)
    raise AssertionError("the fault was never injected")


@pytest.mark.e2e
def test_sigkill_mid_experiment_then_recover_deletes_the_object(
    kube_run: KubeRun, tmp_path: Path, private_state_dir: Path
) -> None:
    experiment = quick_copy("network-latency.yaml", tmp_path)
    text = experiment.read_text().replace("pauses: {after: 1}", "pauses: {after: 60}", 1)
    experiment.write_text(text.replace("duration: 2s", "duration: 10m"))
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        SUITE.format(url=kube_run.api.url, kubeconfig=kube_run.kubeconfig, experiment=experiment)
    )
    env = own_env(private_state_dir)
    run = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(suite), "--report-dir", str(tmp_path / "r")],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        record = wait_for_injection(kube_run, 60)
        os.kill(record.owner_pid, signal.SIGKILL)  # `chaos run`: no rollback
        os.killpg(run.pid, signal.SIGKILL)  # the harness
        run.wait(10)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)
    [name] = [key[2] for key in kube_run.api.cluster.chaos]
    assert [r.extra["name"] for _, r in read_records() if isinstance(r, FaultRecord)] == [name]

    result = harness(["recover"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"reverted kube-object standin/default/NetworkChaos/{name}" in result.stdout
    assert kube_run.api.cluster.chaos == {}, "the leftover Chaos Mesh object is deleted"
    assert read_records() == []
    again = harness(["recover"], env)
    assert again.returncode == 0 and "nothing to recover" in again.stdout


def test_recover_reports_an_object_it_could_not_delete(
    kube_run: KubeRun, private_state_dir: Path
) -> None:
    obj = ChaosObject(
        "standin",
        "default",
        "StressChaos",
        "harness-serving-cpu-0badf00d",
        str(kube_run.kubeconfig),
    )
    body = {"kind": "StressChaos", "metadata": {"name": obj.name}, "spec": {"duration": "1h"}}
    cluster = kube_run.api.cluster
    cluster.chaos[("default", "stresschaos", obj.name)] = StandInObject(
        "StressChaos", "default", body, time.time()
    )
    write_record(orphaned(obj))
    cluster.forbidden.add("default")
    env = own_env(private_state_dir)
    refused = harness(["recover"], env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"NOT reverted kube-object {obj.target}" in refused.stdout
    assert "the ledger is not clean" in refused.stderr
    assert len(read_records()) == 1 and cluster.chaos, "entry kept for the next recover"
    cluster.forbidden.clear()
    done = harness(["recover"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert cluster.chaos == {} and read_records() == []


def test_recover_counts_an_object_already_gone_as_deleted(
    kube_run: KubeRun, private_state_dir: Path
) -> None:
    obj = ChaosObject(
        "standin", "default", "NetworkChaos", "harness-x-12345678", str(kube_run.kubeconfig)
    )
    write_record(orphaned(obj))
    done = harness(["recover"], own_env(private_state_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already gone (404)" in done.stdout and read_records() == []


def test_recover_deletes_a_ballast_a_killed_run_left_in_a_pod(
    kube_run: KubeRun, private_state_dir: Path
) -> None:
    from harness.chaos.kube.execs import Ballast, ballast_record

    cluster = kube_run.api.cluster
    [pod] = [p for p in cluster.pods.values() if p.owner == "model-registry"]
    pod.files[("registry", "/data/.chaos-ballast")] = 64 * 1024 * 1024
    ballast = Ballast(
        "standin",
        "default",
        "registry",
        "/data/.chaos-ballast",
        (pod.name, "model-registry-gone"),
        str(kube_run.kubeconfig),
    )
    write_record(dataclasses.replace(ballast_record(ballast), owner_pid=0))
    done = harness(["recover"], own_env(private_state_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "deleted in 1 pod(s), 1 pod(s) gone" in done.stdout
    assert pod.files == {} and read_records() == []
    assert [argv[-1] for _, _, argv in cluster.execs] == [
        "rm -f /data/.chaos-ballast && test ! -e /data/.chaos-ballast && echo gone"
    ]
