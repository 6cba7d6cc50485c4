"""Every provider an experiment can call, with the field path that names it in the file.

Chaos Toolkit calls providers from more places than the hypothesis probes, the method and
the rollbacks: a probe's ``tolerance`` may itself be a probe, and controls (experiment-level
or on one activity) run python code around every activity. A blast-radius check that walks
only the method misses them; this walk yields all of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProviderCall:
    field: str  # e.g. "steady-state-hypothesis.probes[0].tolerance.provider"
    role: str  # "probe", "action", "tolerance", "control"
    type: str  # "python", "http", "process", or "" when missing
    module: str
    func: str
    arguments: Mapping[str, Any]
    activity: Mapping[str, Any]

    @property
    def name(self) -> str:
        return f"{self.module}.{self.func}" if self.func else self.module


def _call(field: str, role: str, holder: Mapping[str, Any]) -> ProviderCall | None:
    provider = holder.get("provider")
    if not isinstance(provider, dict):
        return None
    arguments = provider.get("arguments")
    return ProviderCall(
        field=f"{field}.provider",
        role=role,
        type=str(provider.get("type", "")),
        module=str(provider.get("module", "")),
        func=str(provider.get("func", "")),
        arguments=arguments if isinstance(arguments, dict) else {},
        activity=holder,
    )


def _controls(field: str, holder: Mapping[str, Any]) -> Iterator[ProviderCall]:
    controls = holder.get("controls")
    for i, control in enumerate(controls if isinstance(controls, list) else []):
        if isinstance(control, dict):
            name = f"{field}.controls[{i}]" if field else f"controls[{i}]"
            call = _call(name, "control", control)
            if call is not None:
                yield call


def _activity(
    field: str, activity: Mapping[str, Any], *, probe: bool = False
) -> Iterator[ProviderCall]:
    role = "probe" if probe or activity.get("type") == "probe" else "action"
    call = _call(field, role, activity)
    if call is not None:
        yield call
    tolerance = activity.get("tolerance")
    if isinstance(tolerance, dict):
        nested = _call(f"{field}.tolerance", "tolerance", tolerance)
        if nested is not None:
            yield nested
    yield from _controls(field, activity)


def provider_calls(data: Mapping[str, Any]) -> Iterator[ProviderCall]:
    """Hypothesis probes (and their tolerance probes), method, rollbacks, controls."""
    yield from _controls("", data)
    ssh = data.get("steady-state-hypothesis")
    if isinstance(ssh, dict):
        yield from _controls("steady-state-hypothesis", ssh)
        probes = ssh.get("probes")
        for i, probe in enumerate(probes if isinstance(probes, list) else []):
            if isinstance(probe, dict):
                yield from _activity(f"steady-state-hypothesis.probes[{i}]", probe, probe=True)
    for key in ("method", "rollbacks"):
        items = data.get(key)
        for i, activity in enumerate(items if isinstance(items, list) else []):
            if isinstance(activity, dict):
                yield from _activity(f"{key}[{i}]", activity)
