"""The serving master's deployer against a real testbed (registry + gunicorn): what the
registry promotes is rolled out one replica at a time, and the rollout faults do what they
say. One testbed for the module (about 7 s), the tests run in order on it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.chaos.ledger import new_record
from harness.chaos.rollouts import (
    ensure_registered,
    promote,
    replica_versions,
    roll_back,
    serving_dir,
    settle,
)
from testbed.manifest import Manifest, live_pods, load_manifest
from testbed.serving.model import MODEL_VERSION, NEXT_MODEL_VERSION
from testbed.serving.pods import read_pod_record
from testbed.serving.rollout_state import follow_model, read_rollout_state
from tests.testbed.conftest import copy_trained

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory, trained_model: Path) -> Iterator[Manifest]:
    state = tmp_path_factory.mktemp("rollout-testbed")
    copy_trained(trained_model, state)
    path = state / "manifest.json"
    argv = [sys.executable, "-m", "testbed", "up", "--manifest", str(path), "--state-dir",
            str(state), "--replicas", "2"]  # fmt: skip
    subprocess.run(argv, check=True, cwd=PROJECT_ROOT, timeout=90, capture_output=True)
    try:
        yield load_manifest(path)
    finally:
        subprocess.run([sys.executable, "-m", "testbed", "down", "--manifest", str(path)],
                       cwd=PROJECT_ROOT, timeout=60, capture_output=True)  # fmt: skip


def set_faults(manifest: Manifest, *specs: str) -> None:
    headers = {"Authorization": f"Bearer {manifest.tokens.admin}"}
    url = manifest.services.serving.url + "/admin/faults"
    httpx.put(url, json={"faults": list(specs)}, headers=headers).raise_for_status()
    time.sleep(0.3)  # replicas re-read the state file every 0.25 s


def answers(manifest: Manifest, count: int) -> list[httpx.Response]:
    """``count`` predictions, each on a new connection (spread over the replicas)."""
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(limits=limits, timeout=5.0) as client:
        url = manifest.services.serving.url + "/predict"
        return [client.post(url, json={"features": [0.1] * 8}) for _ in range(count)]


def wait_rolled(manifest: Manifest, since: float, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = read_rollout_state(serving_dir(manifest))
        if state.state in ("done", "failed") and state.started_at >= since:
            return
        time.sleep(0.1)
    raise AssertionError(f"no rollout settled: {read_rollout_state(serving_dir(manifest))}")


def test_a_promotion_rolls_out_one_replica_at_a_time(manifest: Manifest) -> None:
    before = {p.name for p in live_pods(manifest)}
    ids = ensure_registered(manifest, [MODEL_VERSION, NEXT_MODEL_VERSION])
    promote(manifest, ids[MODEL_VERSION])
    follow_model(serving_dir(manifest), ids[MODEL_VERSION])
    time.sleep(0.5)
    assert read_rollout_state(serving_dir(manifest)).state == "idle"  # v1 runs: nothing to do
    since = time.time()
    promote(manifest, ids[NEXT_MODEL_VERSION])
    wait_rolled(manifest, since)
    state = read_rollout_state(serving_dir(manifest))
    assert (state.state, state.version, state.previous) == ("done", "2.0.0", "1.0.0")
    assert len(state.replaced) == 2 and not set(state.replaced) & before
    assert set(replica_versions(manifest).values()) == {NEXT_MODEL_VERSION}
    assert len(live_pods(manifest)) == 2
    seen = answers(manifest, 20)
    assert {r.status_code for r in seen} == {200}
    assert {r.json()["model_version"] for r in seen} == {NEXT_MODEL_VERSION}


def test_old_version_kept_leaves_one_replica_behind_and_settle_undoes_it(
    manifest: Manifest,
) -> None:
    set_faults(manifest, "old-version-kept")
    since = time.time()
    roll_back(manifest)  # the registry puts 1.0.0 back in production: a rollout to 1.0.0
    wait_rolled(manifest, since)
    assert read_rollout_state(serving_dir(manifest)).state == "done"  # ... it says
    assert sorted(replica_versions(manifest).values()) == [MODEL_VERSION, NEXT_MODEL_VERSION]
    # The ledger's revert of a rollout to 2.0.0 that is not complete: back to 1.0.0, by force.
    extra = {"version": NEXT_MODEL_VERSION, "previous": MODEL_VERSION}
    manifest_file = manifest.state_dir + "/manifest.json"
    record = new_record("model-rollout", "t", manifest_path=manifest_file, extra=extra)
    settled = settle(record, timeout_s=20.0)
    assert settled.ok, settled.detail
    # Both replicas, each serving 1.0.0 (settle waits for a replacement to load its model).
    assert sorted(replica_versions(manifest).values()) == [MODEL_VERSION, MODEL_VERSION]
    set_faults(manifest)


def _replacement_of_a_kill(manifest: Manifest) -> tuple[float, int]:
    victim = live_pods(manifest)[0]
    killed_at = time.time()
    os.kill(victim.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        fresh = [p for p in live_pods(manifest) if p.pid != victim.pid and
                 (r := read_pod_record(Path(manifest.services.serving.pods_dir), p.pid))
                 and r.booted_at >= killed_at]  # fmt: skip
        if fresh:
            return killed_at, fresh[0].pid
        time.sleep(0.02)
    raise AssertionError("no replacement booted")


def test_serve_before_ready_takes_traffic_before_its_model_is_loaded(manifest: Manifest) -> None:
    set_faults(manifest, "serve-before-ready:seconds=2")
    _, pid = _replacement_of_a_kill(manifest)
    pods_dir = Path(manifest.services.serving.pods_dir)
    time.sleep(0.3)
    record = read_pod_record(pods_dir, pid)
    assert record is not None and record.ready and record.model_version == ""
    refused = [r for r in answers(manifest, 30) if r.headers["x-pod"] == record.name]
    assert refused and {r.status_code for r in refused} == {503}
    assert {r.json()["error"] for r in refused} == {"not_ready"}
    time.sleep(2.0)
    loaded = read_pod_record(pods_dir, pid)
    assert loaded is not None and loaded.model_version == MODEL_VERSION
    set_faults(manifest)


def test_slow_cold_start_delays_the_replacement(manifest: Manifest) -> None:
    set_faults(manifest, "slow-cold-start:seconds=2")
    killed_at, pid = _replacement_of_a_kill(manifest)
    pods_dir = Path(manifest.services.serving.pods_dir)
    deadline = time.monotonic() + 10.0
    while (record := read_pod_record(pods_dir, pid)) is None or not record.ready:
        assert time.monotonic() < deadline, "the replacement never got ready"
        time.sleep(0.05)
    assert record.ready_at - killed_at >= 2.0
    assert record.model_version == MODEL_VERSION
    set_faults(manifest)
