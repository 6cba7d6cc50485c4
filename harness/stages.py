"""The stage registry: step kind -> stage (runner + checker) and spec model.

The three built-in stages are imported lazily (``harness.<kind>.stage.STAGE``
and ``harness.<kind>.spec``). Plug-ins (and tests) add kinds with
:func:`register_stage`; ``HARNESS_PLUGINS="module:function,..."`` names
functions the CLI calls at start-up so that they can register theirs.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

from pydantic import BaseModel

from harness.runner import Stage


class StageUnavailable(Exception):
    """A kind whose stage cannot be imported (not installed, or broken)."""


@dataclass(frozen=True)
class _Builtin:
    spec_module: str
    spec_class: str
    stage_module: str


_BUILTIN: dict[str, _Builtin] = {
    "load": _Builtin("harness.load.spec", "LoadStep", "harness.load.stage"),
    "contract": _Builtin("harness.contract.spec", "ContractStep", "harness.contract.stage"),
    "chaos": _Builtin("harness.chaos.spec", "ChaosStep", "harness.chaos.stage"),
}

_registered_stages: dict[str, Stage] = {}
_registered_specs: dict[str, type[BaseModel]] = {}


def register_stage(kind: str, stage: Stage, spec_model: type[BaseModel]) -> None:
    """Make ``kind`` usable in suite files (plug-ins and tests)."""
    _registered_stages[kind] = stage
    _registered_specs[kind] = spec_model


def unregister_stage(kind: str) -> None:
    _registered_stages.pop(kind, None)
    _registered_specs.pop(kind, None)


def kinds() -> list[str]:
    return sorted({*_BUILTIN, *_registered_specs})


def spec_model(kind: str) -> type[BaseModel] | None:
    """The pydantic model of steps of ``kind``; None for an unknown kind."""
    if kind in _registered_specs:
        return _registered_specs[kind]
    builtin = _BUILTIN.get(kind)
    if builtin is None:
        return None
    module = importlib.import_module(builtin.spec_module)
    model: type[BaseModel] = getattr(module, builtin.spec_class)
    return model


def stage_for(kind: str) -> Stage:
    """The stage running steps of ``kind``. Raises StageUnavailable."""
    if kind in _registered_stages:
        return _registered_stages[kind]
    builtin = _BUILTIN.get(kind)
    if builtin is None:
        raise StageUnavailable(f"unknown step kind {kind!r}")
    try:
        module = importlib.import_module(builtin.stage_module)
    except ImportError as exc:
        raise StageUnavailable(f"the {kind} stage is not available: {exc}") from None
    stage: Stage | None = getattr(module, "STAGE", None)
    if stage is None:
        raise StageUnavailable(f"{builtin.stage_module} defines no STAGE")
    return stage


def load_plugins(spec: str | None = None) -> list[str]:
    """Call each ``module:function`` of ``spec`` (default: $HARNESS_PLUGINS).

    Returns problems as lines (empty when all loaded)."""
    spec = os.environ.get("HARNESS_PLUGINS", "") if spec is None else spec
    problems: list[str] = []
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        module_name, _, attr = entry.partition(":")
        try:
            module = importlib.import_module(module_name)
            hook = getattr(module, attr or "register")
            hook()
        except Exception as exc:
            problems.append(f"plug-in {entry!r} failed to load: {type(exc).__name__}: {exc}")
    return problems
