"""One serving replica (a gunicorn worker): its model, fault switch, rate limit and pod record."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from testbed.faults import ErrorFault, FaultState, LatencyFault
from testbed.serving.fault_switch import FaultSwitch
from testbed.serving.model import MODEL_VERSION, LoadedModel, load_model
from testbed.serving.pods import (
    PodRecord,
    new_pod_record,
    read_pod_record,
    write_pod_record,
)
from testbed.serving.rate_limit import SharedTokenBucket
from testbed.serving.settings import ServingSettings
from wholefile import write_atomically

_log = logging.getLogger("testbed.serving")
RELOAD_INTERVAL_S = 1.0


@dataclass(frozen=True)
class Refusal:
    """A request the faults (or an unloaded model) answer instead of the model."""

    status: int
    error: str
    detail: str


@dataclass(frozen=True)
class Guarded:
    """What the faults did to one request: refused it (or not) after holding it ``hold_ms``."""

    refusal: Refusal | None
    hold_ms: float
    release_at: float | None = None  # perf_counter() before which the answer must not leave

    async def held_until_release(self) -> None:
        """Latency in ``total`` mode: hold the answer until its release time.

        uvloop's timers can fire up to about a millisecond early (millisecond
        granularity, and a loop clock read at the start of the iteration), so sleep
        again until the release time has really passed: never answer early."""
        if self.release_at is None:
            return
        # A deadline, not a condition polled for: ASYNC110 does not apply.
        while (left_s := self.release_at - time.perf_counter()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(left_s)


def fetch_model_artifact(source: Path, target: Path) -> None:
    """Copy the trained artifact into the deployed location (atomic)."""
    write_atomically(target, source.read_bytes())


def evict_model_artifact(target: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        target.unlink()


def apply_fragile(settings: ServingSettings, state: FaultState) -> None:
    """fragile on: the deployed artifact is gone; off: fetched again from the source."""
    if state.fragile:
        evict_model_artifact(settings.model_path)
    elif not settings.model_path.exists() and settings.model_source_path.exists():
        fetch_model_artifact(settings.model_source_path, settings.model_path)


class Replica:
    def __init__(self, settings: ServingSettings) -> None:
        self.settings = settings
        self.pid = os.getpid()
        record = read_pod_record(settings.pods_dir, self.pid)
        self.pod = record if record is not None else new_pod_record(self.pid, self.pid)
        self.faults = FaultSwitch(settings.fault_state_path)
        self.bucket = SharedTokenBucket(settings.rate_limit_path)
        self.tokens = _read_tokens(settings.tokens_file)
        self.model: LoadedModel | None = None
        self.load_error = ""
        self._last_load_attempt = 0.0
        self.claims_ready = False
        """serve-before-ready: the pod says ready (and takes traffic) before its model is in."""
        self._boot()

    @property
    def pod_name(self) -> str:
        return self.pod.name

    @property
    def version(self) -> str:
        """The version of the loaded model (the deployed one before any is loaded)."""
        return self.model.version if self.model is not None else MODEL_VERSION

    def _boot(self) -> None:
        """Load the model before taking traffic (gunicorn calls the app factory before the
        worker accepts), unless a boot fault says otherwise."""
        state = self.faults.current()
        early_s = state.boot_delay_s("serve-before-ready")
        if early_s > 0:
            self.claims_ready = True
            self.load_error = f"model loading (in {early_s:g}s)"
            self._last_load_attempt = float("inf")  # sync() must not load it sooner
            self._publish()
            threading.Timer(early_s, self._late_load).start()
            return
        slow_s = state.boot_delay_s("slow-cold-start")
        if slow_s > 0:
            _log.info("pod %s: slow cold start, loading in %gs", self.pod_name, slow_s)
            time.sleep(slow_s)
        self.load()

    def _late_load(self) -> None:
        self.load()
        self.claims_ready = False

    def load(self) -> None:
        """Load the deployed artifact; on failure stay up but not ready (and say why)."""
        self._last_load_attempt = time.monotonic()
        try:
            self.model = load_model(self.settings.model_path)
            self.load_error = ""
            _log.info("pod %s (pid %d) loaded the model", self.pod_name, self.pid)
        except Exception as exc:  # any load failure leaves the replica unready
            self.model = None
            self.load_error = f"model not loaded: {exc}"
            _log.error("pod %s (pid %d): %s", self.pod_name, self.pid, self.load_error)
        self._publish()

    def _publish(self) -> None:
        ready = self.model is not None or self.claims_ready
        self.pod = PodRecord(
            pid=self.pid,
            ordinal=self.pod.ordinal,
            ready=ready,
            booted_at=self.pod.booted_at,
            reason=self.load_error,
            model_version=self.model.version if self.model is not None else "",
            ready_at=self.pod.ready_at or (time.time() if ready else 0.0),
        )
        with contextlib.suppress(OSError):
            write_pod_record(self.settings.pods_dir, self.pod)

    def sync(self) -> FaultState:
        """Apply the current fault state's side effects; retry loading when allowed."""
        state = self.faults.current()
        apply_fragile(self.settings, state)
        if (
            self.model is None
            and not state.fragile
            and time.monotonic() - self._last_load_attempt >= RELOAD_INTERVAL_S
        ):
            self.load()
        return state

    async def watch(self, interval_s: float = 0.25) -> None:
        """Background loop: fault side effects apply even when no request arrives."""
        while True:
            try:
                self.sync()
            except OSError as exc:
                _log.warning("fault sync failed: %s", exc)
            await asyncio.sleep(interval_s)

    async def guard(self, arrived: float | None = None) -> Guarded:
        """Apply rate limit and faults to a /predict or /model-info request that
        arrived at ``arrived`` (perf_counter(); default now)."""
        held_from = time.perf_counter()
        release_at: list[float] = []
        refusal = await self._refusal(held_from if arrived is None else arrived, release_at)
        hold_ms = (time.perf_counter() - held_from) * 1000.0
        return Guarded(refusal, hold_ms, release_at[0] if release_at else None)

    async def _refusal(self, arrived: float, release_at: list[float]) -> Refusal | None:
        state = self.faults.current()
        limited = state.rate_limit_rps is not None and state.find("no-rate-limit") is None
        if limited and state.rate_limit_rps and not self.bucket.try_take(state.rate_limit_rps):
            return Refusal(429, "rate_limited", f"over {state.rate_limit_rps:g} requests/s")
        stall_left_s = state.stall_until() - time.time()
        if stall_left_s > 0:
            await asyncio.sleep(stall_left_s)
        latency = state.find("latency")
        if isinstance(latency, LatencyFault):
            delay_s = self.faults.next_delay_s(latency)
            if latency.mode == "total":
                release_at.append(arrived + delay_s)
            else:
                await asyncio.sleep(delay_s)
        errors = state.find("errors")
        if isinstance(errors, ErrorFault) and self.faults.should_fail(errors):
            return Refusal(errors.status, "injected_error", "fault 'errors' answered this request")
        if self.model is None:
            return Refusal(503, "not_ready", self.load_error or "model not loaded")
        return None

    def close(self) -> None:
        self.bucket.close()


def _read_tokens(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text())
    return {role: str(data[role]) for role in ("read", "write", "admin")}
