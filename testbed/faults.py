"""Fault switches of the testbed: the ``--fault SPEC`` syntax and the serving fault-state file.

Spec syntax: ``NAME`` or ``NAME:key=value,key=value``.

Serving faults (applied to ``/predict`` and ``/model-info`` of every replica at once):

- ``latency:dist=fixed,ms=150``
- ``latency:dist=uniform,min_ms=50,max_ms=150``
- ``latency:dist=lognormal,p50_ms=20,p99_ms=200``
- ``errors:rate=0.05[,status=500]``
- ``stall:seconds=5``
- ``fragile``
- ``no-rate-limit`` (the configured rate limit is not applied: no 429 however fast)
- ``metric-renamed`` (``/metrics`` serves ``ml_predictions_*`` as ``ml_inference_requests_*``)
- ``wrong-answers[:rate=1]`` (``/predict`` answers 200 with the other class and 1 - p for
  ``rate`` of the requests: a model that is up, fast and wrong)
- ``crossed-answers`` (each replica answers a ``/predict`` with the answer it computed for
  the request before: request A gets B's prediction and echoed ``id``)
- ``old-version-kept`` (a rollout replaces every replica but one, and reports done)
- ``serve-before-ready[:seconds=3]`` (a replica that boots says ready and takes traffic at once,
  but loads its model only ``seconds`` later: it answers 503 meanwhile)
- ``slow-cold-start[:seconds=8]`` (a replica that boots waits ``seconds`` before loading its
  model, as if fetching the artifact were slow; it takes no traffic meanwhile)

Registry faults (passed through to ``python -m testbed.registry --fault NAME``):
``registry-rename-field``, ``registry-retype-field``, ``registry-wrong-status``,
``registry-bad-enum``, ``db-down``, ``registry-auth-bypass`` (a read token passes for a
write), ``registry-bad-id-500`` (a malformed model id answers 500 instead of 400).

The serving fault state lives in one JSON file, written atomically (temp file + rename) and
re-read by each replica when its mtime changes, so the admin endpoint (which lands on one
replica) and an outside tool (``harness recover``) both switch all replicas at once. A missing
file means "no faults".
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wholefile import write_atomically

REGISTRY_FAULT_NAMES: tuple[str, ...] = (
    "registry-rename-field",
    "registry-retype-field",
    "registry-wrong-status",
    "registry-bad-enum",
    "db-down",
    "registry-auth-bypass",
    "registry-bad-id-500",
)
SERVING_FAULT_NAMES: tuple[str, ...] = (
    "latency", "errors", "stall", "fragile", "no-rate-limit", "metric-renamed",
    "wrong-answers", "crossed-answers",
    "old-version-kept", "serve-before-ready", "slow-cold-start",
)  # fmt: skip
FAULT_STATE_SCHEMA = "testbed.serving-faults/1"

# Standard normal quantile of 0.99: sigma = ln(p99 / p50) / Z_99 for a lognormal.
Z_99 = 2.3263478740408408


class FaultSpecError(ValueError):
    """A ``--fault`` spec (or a fault-state entry) that names an unknown fault or bad parameter."""


@dataclass(frozen=True)
class LatencyFault:
    """Delay each answer by a duration drawn from a distribution (milliseconds).

    ``mode="added"`` (default, like a service-mesh delay filter) holds the request for
    the drawn delay before the replica serves it, so the response time is the delay
    plus the service time. ``mode="total"`` holds the answer until the drawn delay has
    passed since the request arrived, so the response time at the replica *is* the
    drawn delay (when serving takes less): a known latency distribution to measure.
    """

    dist: Literal["fixed", "uniform", "lognormal"]
    ms: float = 0.0
    min_ms: float = 0.0
    max_ms: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    mode: Literal["added", "total"] = "added"

    name: Literal["latency"] = field(default="latency", init=False)

    def delay_ms(self, u: float) -> float:
        """The delay at quantile ``u`` in (0, 1) of the distribution."""
        if self.dist == "fixed":
            return self.ms
        if self.dist == "uniform":
            return self.min_ms + u * (self.max_ms - self.min_ms)
        mu = math.log(self.p50_ms)
        sigma = (math.log(self.p99_ms) - mu) / Z_99
        u = min(max(u, 1e-9), 1.0 - 1e-9)
        return math.exp(mu + sigma * _normal_quantile(u))

    def to_spec(self) -> str:
        mode = ",mode=total" if self.mode == "total" else ""
        if self.dist == "fixed":
            return f"latency:dist=fixed,ms={_num(self.ms)}{mode}"
        if self.dist == "uniform":
            bounds = f"min_ms={_num(self.min_ms)},max_ms={_num(self.max_ms)}"
            return f"latency:dist=uniform,{bounds}{mode}"
        quantiles = f"p50_ms={_num(self.p50_ms)},p99_ms={_num(self.p99_ms)}"
        return f"latency:dist=lognormal,{quantiles}{mode}"


@dataclass(frozen=True)
class ErrorFault:
    """Answer ``rate`` of the requests with ``status`` and a JSON error body."""

    rate: float
    status: int = 500

    name: Literal["errors"] = field(default="errors", init=False)

    def to_spec(self) -> str:
        return f"errors:rate={_num(self.rate)},status={self.status}"


@dataclass(frozen=True)
class StallFault:
    """Hold every request that arrives during ``seconds`` after the fault is set until then."""

    seconds: float

    name: Literal["stall"] = field(default="stall", init=False)

    def to_spec(self) -> str:
        return f"stall:seconds={_num(self.seconds)}"


@dataclass(frozen=True)
class FragileFault:
    """The deployed model artifact is removed: replicas that boot later cannot load it."""

    name: Literal["fragile"] = field(default="fragile", init=False)

    def to_spec(self) -> str:
        return "fragile"


@dataclass(frozen=True)
class NoRateLimitFault:
    """The configured rate limit is not applied (a deployment that lost its limiter)."""

    name: Literal["no-rate-limit"] = field(default="no-rate-limit", init=False)

    def to_spec(self) -> str:
        return "no-rate-limit"


@dataclass(frozen=True)
class MetricRenamedFault:
    """``/metrics`` serves the prediction counter under another name (a dashboard breaks)."""

    name: Literal["metric-renamed"] = field(default="metric-renamed", init=False)

    def to_spec(self) -> str:
        return "metric-renamed"


@dataclass(frozen=True)
class WrongAnswersFault:
    """``rate`` of the predictions are wrong (status 200, a well-formed body)."""

    rate: float = 1.0

    name: Literal["wrong-answers"] = field(default="wrong-answers", init=False)

    def to_spec(self) -> str:
        return f"wrong-answers:rate={_num(self.rate)}"


@dataclass(frozen=True)
class CrossedAnswersFault:
    """Each answer goes to the next request (a shared buffer between requests)."""

    name: Literal["crossed-answers"] = field(default="crossed-answers", init=False)

    def to_spec(self) -> str:
        return "crossed-answers"


@dataclass(frozen=True)
class OldVersionKeptFault:
    """A rollout replaces every replica but the last one, and reports itself done."""

    name: Literal["old-version-kept"] = field(default="old-version-kept", init=False)

    def to_spec(self) -> str:
        return "old-version-kept"


@dataclass(frozen=True)
class ServeBeforeReadyFault:
    """A booting replica says ready at once and loads its model ``seconds`` later."""

    seconds: float = 3.0

    name: Literal["serve-before-ready"] = field(default="serve-before-ready", init=False)

    def to_spec(self) -> str:
        return f"serve-before-ready:seconds={_num(self.seconds)}"


@dataclass(frozen=True)
class SlowColdStartFault:
    """A booting replica waits ``seconds`` before it loads its model (a slow artifact fetch)."""

    seconds: float = 8.0

    name: Literal["slow-cold-start"] = field(default="slow-cold-start", init=False)

    def to_spec(self) -> str:
        return f"slow-cold-start:seconds={_num(self.seconds)}"


@dataclass(frozen=True)
class RegistryFault:
    """A registry fault, passed through to the registry process at ``up``."""

    name: str

    def to_spec(self) -> str:
        return self.name


ServingFault = (
    LatencyFault
    | ErrorFault
    | StallFault
    | FragileFault
    | NoRateLimitFault
    | MetricRenamedFault
    | WrongAnswersFault
    | CrossedAnswersFault
    | OldVersionKeptFault
    | ServeBeforeReadyFault
    | SlowColdStartFault
)
Fault = ServingFault | RegistryFault


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _normal_quantile(u: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(u)


def _split_params(spec: str, text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise FaultSpecError(f"fault {spec!r}: empty parameter (stray comma?)")
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise FaultSpecError(f"fault {spec!r}: parameter {part!r} is not key=value")
        if key in params:
            raise FaultSpecError(f"fault {spec!r}: parameter {key!r} given twice")
        params[key] = value
    return params


def _number(spec: str, params: Mapping[str, str], key: str, *, minimum: float = 0.0) -> float:
    if key not in params:
        raise FaultSpecError(f"fault {spec!r}: missing parameter {key!r}")
    try:
        value = float(params[key])
    except ValueError:
        raise FaultSpecError(
            f"fault {spec!r}: parameter {key}={params[key]!r} is not a number"
        ) from None
    if not math.isfinite(value) or value < minimum:
        raise FaultSpecError(f"fault {spec!r}: parameter {key}={params[key]} must be >= {minimum}")
    return value


def _refuse_extra(spec: str, params: Mapping[str, str], allowed: Iterable[str]) -> None:
    extra = sorted(set(params) - set(allowed))
    if extra:
        raise FaultSpecError(
            f"fault {spec!r}: unknown parameter {extra[0]!r} (allowed: {', '.join(allowed)})"
        )


def _parse_latency(spec: str, params: dict[str, str]) -> LatencyFault:
    dist = params.get("dist", "fixed")
    mode: Literal["added", "total"]
    if params.get("mode", "added") == "added":
        mode = "added"
    elif params["mode"] == "total":
        mode = "total"
    else:
        raise FaultSpecError(
            f"fault {spec!r}: unknown latency mode {params['mode']!r} (allowed: added, total)"
        )
    if dist == "fixed":
        _refuse_extra(spec, params, ("dist", "ms", "mode"))
        return LatencyFault(dist="fixed", ms=_number(spec, params, "ms"), mode=mode)
    if dist == "uniform":
        _refuse_extra(spec, params, ("dist", "min_ms", "max_ms", "mode"))
        low, high = _number(spec, params, "min_ms"), _number(spec, params, "max_ms")
        if high < low:
            raise FaultSpecError(f"fault {spec!r}: max_ms={_num(high)} is below min_ms={_num(low)}")
        return LatencyFault(dist="uniform", min_ms=low, max_ms=high, mode=mode)
    if dist == "lognormal":
        _refuse_extra(spec, params, ("dist", "p50_ms", "p99_ms", "mode"))
        p50, p99 = _number(spec, params, "p50_ms"), _number(spec, params, "p99_ms")
        if p50 <= 0 or p99 <= p50:
            raise FaultSpecError(f"fault {spec!r}: lognormal needs 0 < p50_ms < p99_ms")
        return LatencyFault(dist="lognormal", p50_ms=p50, p99_ms=p99, mode=mode)
    raise FaultSpecError(
        f"fault {spec!r}: unknown latency dist {dist!r} (allowed: fixed, uniform, lognormal)"
    )


def _parse_errors(spec: str, params: dict[str, str]) -> ErrorFault:
    _refuse_extra(spec, params, ("rate", "status"))
    rate = _number(spec, params, "rate")
    if rate > 1.0:
        raise FaultSpecError(f"fault {spec!r}: rate={params['rate']} must lie in [0, 1]")
    status = 500
    if "status" in params:
        try:
            status = int(params["status"])
        except ValueError:
            raise FaultSpecError(
                f"fault {spec!r}: status={params['status']!r} is not an integer"
            ) from None
        if not 400 <= status <= 599:
            raise FaultSpecError(f"fault {spec!r}: status={status} must be a 4xx or 5xx code")
    return ErrorFault(rate=rate, status=status)


def _parse_boot_delay(
    spec: str, name: str, params: dict[str, str]
) -> ServeBeforeReadyFault | SlowColdStartFault:
    _refuse_extra(spec, params, ("seconds",))
    if name == "serve-before-ready":
        seconds = _number(spec, params, "seconds") if params else 3.0
        return ServeBeforeReadyFault(seconds=seconds)
    seconds = _number(spec, params, "seconds") if params else 8.0
    return SlowColdStartFault(seconds=seconds)


def parse_fault_spec(spec: str) -> Fault:
    """Parse one ``--fault`` spec; raise FaultSpecError naming the bad part."""
    name, sep, rest = spec.strip().partition(":")
    name = name.strip()
    params = _split_params(spec, rest) if sep else {}
    if name in REGISTRY_FAULT_NAMES:
        _refuse_extra(spec, params, ())
        return RegistryFault(name=name)
    if name == "latency":
        return _parse_latency(spec, params)
    if name == "errors":
        return _parse_errors(spec, params)
    if name == "stall":
        _refuse_extra(spec, params, ("seconds",))
        seconds = _number(spec, params, "seconds")
        if seconds <= 0:
            raise FaultSpecError(f"fault {spec!r}: seconds must be > 0")
        return StallFault(seconds=seconds)
    if name == "fragile":
        _refuse_extra(spec, params, ())
        return FragileFault()
    if name == "no-rate-limit":
        _refuse_extra(spec, params, ())
        return NoRateLimitFault()
    if name == "metric-renamed":
        _refuse_extra(spec, params, ())
        return MetricRenamedFault()
    if name == "wrong-answers":
        _refuse_extra(spec, params, ("rate",))
        rate = _number(spec, params, "rate") if "rate" in params else 1.0
        if rate > 1.0:
            raise FaultSpecError(f"fault {spec!r}: rate={params['rate']} must lie in [0, 1]")
        return WrongAnswersFault(rate=rate)
    if name == "crossed-answers":
        _refuse_extra(spec, params, ())
        return CrossedAnswersFault()
    if name == "old-version-kept":
        _refuse_extra(spec, params, ())
        return OldVersionKeptFault()
    if name in ("serve-before-ready", "slow-cold-start"):
        return _parse_boot_delay(spec, name, params)
    known = ", ".join((*SERVING_FAULT_NAMES, *REGISTRY_FAULT_NAMES))
    raise FaultSpecError(f"fault {spec!r}: unknown fault name {name!r} (known: {known})")


def parse_fault_specs(specs: Iterable[str]) -> tuple[Fault, ...]:
    """Parse several specs; a serving fault kind may appear at most once."""
    faults = tuple(parse_fault_spec(spec) for spec in specs)
    seen: set[str] = set()
    for fault in faults:
        if fault.name in seen:
            raise FaultSpecError(f"fault {fault.name!r} given more than once")
        seen.add(fault.name)
    return faults


def serving_faults(faults: Iterable[Fault]) -> tuple[ServingFault, ...]:
    return tuple(f for f in faults if not isinstance(f, RegistryFault))


def registry_faults(faults: Iterable[Fault]) -> tuple[RegistryFault, ...]:
    return tuple(f for f in faults if isinstance(f, RegistryFault))


@dataclass(frozen=True)
class FaultState:
    """What every serving replica applies. ``set_at`` (epoch s) starts a stall window."""

    faults: tuple[ServingFault, ...] = ()
    rate_limit_rps: float | None = None
    set_at: float = 0.0

    def find(self, name: str) -> ServingFault | None:
        return next((f for f in self.faults if f.name == name), None)

    @property
    def fragile(self) -> bool:
        return self.find("fragile") is not None

    def boot_delay_s(self, name: Literal["serve-before-ready", "slow-cold-start"]) -> float:
        """Seconds a booting replica waits before loading its model under fault ``name``
        (0 when it is off)."""
        fault = self.find(name)
        if isinstance(fault, ServeBeforeReadyFault | SlowColdStartFault):
            return fault.seconds
        return 0.0

    def stall_until(self) -> float:
        """Epoch second until which arriving requests are held (0 when no stall)."""
        stall = self.find("stall")
        return self.set_at + stall.seconds if isinstance(stall, StallFault) else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": FAULT_STATE_SCHEMA,
            "faults": [f.to_spec() for f in self.faults],
            "rate_limit_rps": self.rate_limit_rps,
            "set_at": self.set_at,
        }


def build_fault_state(
    specs: Iterable[str], rate_limit_rps: float | None = None, *, set_at: float | None = None
) -> FaultState:
    """A state from spec strings; registry fault names are refused here (not serving's)."""
    faults = parse_fault_specs(specs)
    for fault in faults:
        if isinstance(fault, RegistryFault):
            raise FaultSpecError(
                f"fault {fault.name!r} is a registry fault: set it on the registry, not serving"
            )
    if rate_limit_rps is not None and (not math.isfinite(rate_limit_rps) or rate_limit_rps <= 0):
        raise FaultSpecError(f"rate_limit_rps={rate_limit_rps} must be a positive number")
    return FaultState(
        faults=serving_faults(faults),
        rate_limit_rps=rate_limit_rps,
        set_at=time.time() if set_at is None else set_at,
    )


def fault_state_from_json(data: object, *, source: str = "fault state") -> FaultState:
    """Parse the file / request body form: ``{"faults": [spec, ...], "rate_limit_rps": x}``."""
    if not isinstance(data, dict):
        raise FaultSpecError(f"{source}: expected a JSON object with a 'faults' list")
    unknown = sorted(set(data) - {"schema", "faults", "rate_limit_rps", "set_at"})
    if unknown:
        raise FaultSpecError(f"{source}: unknown field {unknown[0]!r}")
    specs = data.get("faults", [])
    if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
        raise FaultSpecError(f"{source}: 'faults' must be a list of spec strings")
    rate = data.get("rate_limit_rps")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float)):
        raise FaultSpecError(f"{source}: 'rate_limit_rps' must be a number or null")
    set_at = data.get("set_at")
    if set_at is not None and (isinstance(set_at, bool) or not isinstance(set_at, int | float)):
        raise FaultSpecError(f"{source}: 'set_at' must be a number")
    return build_fault_state(
        specs,
        None if rate is None else float(rate),
        set_at=None if set_at is None else float(set_at),
    )


def write_fault_state(path: Path, state: FaultState) -> None:
    """Write atomically: a temp file in the same directory, then rename over ``path``."""
    write_atomically(path, json.dumps(state.to_json(), indent=2) + "\n")


def clear_fault_state(path: Path) -> None:
    """No faults, no rate limit (what ``harness recover`` does)."""
    write_fault_state(path, FaultState(set_at=time.time()))


def read_fault_state(path: Path) -> FaultState:
    """The state in ``path``; a missing file is the empty state. Bad content raises."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return FaultState()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FaultSpecError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    return fault_state_from_json(data, source=str(path))
