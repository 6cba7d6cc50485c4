"""Model rollouts on a local testbed, as the ledger sees them: the registry calls that
promote a version, and the revert that never leaves serving half-rolled.

Promoting is a registry call (``POST /models/{id}/transition {"stage": "production"}``);
the serving master's deployer (``testbed.serving.rollout``) does the rolling. Reverting a
``model-rollout`` entry (the experiment's rollback, ``harness recover``) means: wait until
the deployer has settled; a finished rollout (every live replica on the promoted version)
stays; anything else (failed, stuck, replicas on two versions) -> the previous version is
promoted back (``POST /models/{id}/transition`` with that version's id, not the registry's
``rollback``, which goes to whatever was in production before), the deployer rolls it out,
and replicas still on another version afterwards are replaced by force (SIGTERM: the
master boots their replacements from the deployed artifact). Verified when the testbed's
full count of replicas is live and every one serves that version (a replacement that is
still booting is not "on the version"). The testbed is imported lazily: the orchestrator
has it only for local targets.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from harness.chaos.ledger import FaultRecord
    from testbed.manifest import Manifest

HTTP_TIMEOUT_S = 5.0
SETTLE_S = 60.0


class RolloutError(RuntimeError):
    """The registry refused a call a rollout needs."""


@dataclass(frozen=True)
class Settled:
    ok: bool
    detail: str


def serving_dir(manifest: Manifest) -> Path:
    return Path(manifest.services.serving.pods_dir).parent


def _client(manifest: Manifest) -> httpx.Client:
    return httpx.Client(
        base_url=manifest.services.registry.url,
        headers={"Authorization": f"Bearer {manifest.tokens.write}"},
        timeout=HTTP_TIMEOUT_S,
    )


def registered_versions(manifest: Manifest, model_id: int) -> dict[str, dict[str, Any]]:
    with _client(manifest) as client:
        response = client.get(f"/models/{model_id}/versions")
    if response.status_code != 200:
        raise RolloutError(f"registry: versions of model {model_id}: HTTP {response.status_code}")
    return {str(m["version"]): m for m in response.json()["versions"]}


def ensure_registered(manifest: Manifest, versions: list[str]) -> dict[str, int]:
    """Register the served model's ``versions`` (once per testbed); their ids by version."""
    from testbed.serving.model import MODEL_NAME
    from testbed.serving.rollout_state import followed_model

    ids: dict[str, int] = {}
    followed = followed_model(serving_dir(manifest))
    known = registered_versions(manifest, followed) if followed is not None else {}
    with _client(manifest) as client:
        for version in versions:
            if version in known:
                ids[version] = int(known[version]["model_id"])
                continue
            body = {"name": MODEL_NAME, "version": version, "framework": "sklearn"}
            response = client.post("/models/register", json=body)
            if response.status_code != 201:
                raise RolloutError(
                    f"registry: register {MODEL_NAME} {version}: HTTP {response.status_code} "
                    f"{response.text[:200]}"
                )
            ids[version] = int(response.json()["model_id"])
    return ids


def promote(manifest: Manifest, model_id: int) -> None:
    with _client(manifest) as client:
        response = client.post(f"/models/{model_id}/transition", json={"stage": "production"})
    if response.status_code != 200:
        raise RolloutError(f"registry: promote model {model_id}: HTTP {response.status_code}")


def roll_back(manifest: Manifest) -> None:
    from testbed.serving.model import MODEL_NAME

    with _client(manifest) as client:
        response = client.post(f"/models/{MODEL_NAME}/rollback")
    if response.status_code not in (200, 409):  # 409: nothing earlier in production
        raise RolloutError(f"registry: roll back {MODEL_NAME}: HTTP {response.status_code}")


def replica_versions(manifest: Manifest) -> dict[int, str]:
    """Live replicas (pid) and the version each serves ("" while loading)."""
    from testbed.manifest import live_pods
    from testbed.serving.pods import read_pod_record

    pods_dir = Path(manifest.services.serving.pods_dir)
    versions: dict[int, str] = {}
    for pod in live_pods(manifest):
        record = read_pod_record(pods_dir, pod.pid)
        versions[pod.pid] = record.model_version if record is not None else ""
    return versions


def all_serve(manifest: Manifest, version: str) -> bool:
    """The testbed's full count of replicas is live and every one serves ``version``.

    The count matters: a worker the master has just forked (to replace one that exited)
    has no pod record for a moment, so ``live_pods`` does not list it; without the count,
    that moment reads as "every replica on ``version``" and the replacement then shows up
    still loading ("")."""
    versions = replica_versions(manifest)
    wanted = max(manifest.services.serving.replicas, 1)
    return len(versions) >= wanted and set(versions.values()) == {version}


def wait_settled(manifest: Manifest, version: str, timeout_s: float) -> bool:
    """Until the deployer is not rolling and every replica (all of them) serves ``version``."""
    from testbed.serving.rollout_state import read_rollout_state

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = read_rollout_state(serving_dir(manifest))
        if state.state != "rolling" and all_serve(manifest, version):
            return True
        time.sleep(0.2)
    return False


def _wait_deployer(manifest: Manifest, since: float, timeout_s: float) -> None:
    """Until the deployer has finished a rollout it began after ``since`` (or the time is up:
    a deployer that already runs the version it is asked for does not roll at all)."""
    from testbed.serving.rollout_state import read_rollout_state

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = read_rollout_state(serving_dir(manifest))
        if state.state in ("done", "failed") and state.started_at >= since:
            return
        if state.state != "rolling" and time.monotonic() > deadline - timeout_s + 2.0:
            return  # nothing started within 2 s: nothing to roll
        time.sleep(0.1)


def _replace_stragglers(manifest: Manifest, version: str) -> None:
    for pid, served in replica_versions(manifest).items():
        if served != version:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def settle(record: FaultRecord, timeout_s: float = SETTLE_S) -> Settled:
    """Revert a ``model-rollout`` entry: finished stays, anything else goes back."""
    from testbed.manifest import ManifestError, load_manifest, serving_master
    from testbed.serving.rollout_state import read_rollout_state

    try:
        manifest = load_manifest(Path(record.manifest_path))
    except ManifestError:
        return Settled(True, "testbed manifest gone: nothing half-rolled is left")
    if serving_master(manifest) is None:
        return Settled(True, "serving master gone (testbed stopped): nothing half-rolled")
    target, previous = str(record.extra["version"]), str(record.extra["previous"])
    deadline = time.monotonic() + timeout_s
    while read_rollout_state(serving_dir(manifest)).state == "rolling":
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    state = read_rollout_state(serving_dir(manifest))
    if state.state == "done" and all_serve(manifest, target):
        return Settled(True, f"rolled out: every replica on {target}")
    rolled_back_at = time.time()
    promote(manifest, ensure_registered(manifest, [previous])[previous])
    _wait_deployer(manifest, rolled_back_at, max(deadline - time.monotonic(), 10.0))
    if wait_settled(manifest, previous, 2.0):
        return Settled(True, f"rollout to {target} undone: every replica back on {previous}")
    _replace_stragglers(manifest, previous)
    if wait_settled(manifest, previous, 20.0):
        return Settled(True, f"rollout to {target} undone (stragglers replaced): on {previous}")
    versions = replica_versions(manifest)
    return Settled(False, f"{len(versions)} replicas live, on {sorted(set(versions.values()))}")
