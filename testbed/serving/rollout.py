"""The serving master's deployer: when the registry promotes another version of the model
the deployment follows, roll it out one replica at a time.

Runs as a daemon thread in the gunicorn master (started by the ``when_ready`` hook). Every
``POLL_S`` it asks the registry for the followed model's production version
(``GET /models/{id}/versions``, read token). When that differs from the deployed version:

1. the new artifact is fetched into the deployed location (every worker booting from now on
   loads it);
2. for each old replica, oldest first: ``SIGTTIN`` to the master (one more worker: it loads
   the new artifact in the app factory, before gunicorn lets it accept), wait until its pod
   record says ready, then ``SIGTTOU`` (gunicorn stops its *oldest* worker, gracefully);
3. every live replica on the new version -> ``done``; a replica that never got ready ->
   ``failed`` (the count is restored, the rest stays on the old version).

A surge of one, like a Kubernetes Deployment with ``maxSurge: 1, maxUnavailable: 0``. The
deployer trusts the pod record's ``ready`` as a kubelet trusts a readiness probe, so a pod
that lies (fault ``serve-before-ready``) takes traffic before its model is loaded. Fault
``old-version-kept`` makes it stop one replica short and still say done.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import urllib.request

import psutil

from testbed.faults import FaultSpecError, read_fault_state
from testbed.serving.pods import PodRecord, read_pod_record
from testbed.serving.replica import fetch_model_artifact
from testbed.serving.rollout_state import (
    RolloutState,
    followed_model,
    read_rollout_state,
    write_rollout_state,
)
from testbed.serving.settings import ServingSettings

_log = logging.getLogger("testbed.serving.rollout")
POLL_S = 0.25
READY_TIMEOUT_S = 30.0
RETIRE_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 2.0


class Deployer:
    def __init__(self, settings: ServingSettings, master_pid: int) -> None:
        self.settings = settings
        self.master_pid = master_pid
        self.serving_dir = settings.pods_dir.parent
        self._failed_target = ""

    # -- what the registry says ------------------------------------------------------------

    def production_version(self) -> str | None:
        """The followed model's production version; None: nothing followed, or no answer."""
        model_id = followed_model(self.serving_dir)
        if model_id is None or not self.settings.registry_url:
            return None
        token = json.loads(self.settings.tokens_file.read_text())["read"]
        request = urllib.request.Request(
            f"{self.settings.registry_url.rstrip('/')}/models/{model_id}/versions",
            headers={"Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
                versions = json.loads(response.read())["versions"]
        except (OSError, ValueError, KeyError):
            return None
        production = [v for v in versions if v.get("stage") == "production"]
        return str(production[-1]["version"]) if production else None

    # -- the replicas ----------------------------------------------------------------------

    def pods(self) -> list[PodRecord]:
        """The master's live workers that have a pod record, oldest first."""
        try:
            children = psutil.Process(self.master_pid).children()
        except psutil.NoSuchProcess:
            return []
        records = [read_pod_record(self.settings.pods_dir, c.pid) for c in children]
        return sorted((r for r in records if r is not None), key=lambda r: r.ordinal)

    def _wait_new_ready(self, known: set[int]) -> PodRecord | None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            fresh = [p for p in self.pods() if p.pid not in known and p.ready]
            if fresh:
                return fresh[0]
            time.sleep(0.05)
        return None

    def _wait_gone(self, pid: int) -> None:
        deadline = time.monotonic() + RETIRE_TIMEOUT_S
        while time.monotonic() < deadline and any(p.pid == pid for p in self.pods()):
            time.sleep(0.05)

    def _keeps_one_old(self) -> bool:
        try:
            state = read_fault_state(self.settings.fault_state_path)
            return state.find("old-version-kept") is not None
        except (FaultSpecError, OSError):
            return False

    # -- the rollout -----------------------------------------------------------------------

    def replace_one(self) -> PodRecord | None:
        """Surge one new replica, wait until it is ready, then retire the oldest."""
        known = {p.pid for p in self.pods()}
        oldest = self.pods()[0].pid if known else 0
        os.kill(self.master_pid, signal.SIGTTIN)
        fresh = self._wait_new_ready(known)
        os.kill(self.master_pid, signal.SIGTTOU)  # back to N workers: the oldest goes
        if oldest:
            self._wait_gone(oldest)
        return fresh

    def roll_out(self, target: str, previous: str) -> RolloutState:
        from testbed.serving.deployment import model_source_path

        started = time.time()
        source = model_source_path(self.settings.state_dir, target)
        if not source.is_file():
            return RolloutState(target, previous, "failed", started, time.time(),
                                f"no artifact for version {target} ({source})")  # fmt: skip
        write_rollout_state(self.serving_dir, RolloutState(target, previous, "rolling", started))
        fetch_model_artifact(source, self.settings.model_path)
        replaced: list[str] = []
        keep_one = self._keeps_one_old()
        for _ in range(3 * max(self.settings.replicas, 1)):  # bounded: pods may die meanwhile
            old = [p for p in self.pods() if p.model_version != target]
            if not old or (keep_one and len(old) <= 1 and replaced):
                break
            fresh = self.replace_one()
            if fresh is None:
                detail = f"a new replica was not ready within {READY_TIMEOUT_S:g}s"
                return RolloutState(target, previous, "failed", started, time.time(),
                                    detail, tuple(replaced))  # fmt: skip
            replaced.append(fresh.name)
            _log.info("rollout to %s: %s in service", target, fresh.name)
        return RolloutState(target, previous, "done", started, time.time(), "", tuple(replaced))

    def step(self) -> None:
        """One look at the registry; a whole rollout when it promoted another version."""
        current = read_rollout_state(self.serving_dir)
        target = self.production_version()
        if target is None or target == current.version or target == self._failed_target:
            return
        _log.info("registry promoted %s (deployed: %s): rolling out", target, current.version)
        result = self.roll_out(target, current.version)
        if result.state == "failed":
            from testbed.serving.deployment import model_source_path

            self._failed_target = target
            back = model_source_path(self.settings.state_dir, current.version)
            if back.is_file():  # replicas that boot from now on load the old version again
                fetch_model_artifact(back, self.settings.model_path)
            _log.error("rollout to %s failed: %s", target, result.detail)
            result = RolloutState(current.version, target, "failed", result.started_at,
                                  result.finished_at, result.detail, result.replaced)  # fmt: skip
        else:
            self._failed_target = ""
        write_rollout_state(self.serving_dir, result)

    def run_forever(self) -> None:
        while True:
            try:
                self.step()
            except Exception:  # the deployer must outlive any one bad look
                _log.exception("deployer step failed")
            time.sleep(POLL_S)


def start_deployer(settings: ServingSettings, master_pid: int) -> threading.Thread | None:
    """Start the deployer thread (none when serving follows no registry)."""
    if not settings.registry_url:
        return None
    deployer = Deployer(settings, master_pid)
    thread = threading.Thread(target=deployer.run_forever, name="deployer", daemon=True)
    thread.start()
    return thread
