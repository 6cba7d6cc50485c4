"""The stage registry: every kind of evidence the harness knows, listed once.

The built-in stages are the explicit list :data:`BUILTIN`. A plug-in (or a test)
adds a kind with one call, :func:`register_stage`; ``HARNESS_PLUGINS=
"module:function,..."`` names functions the CLI calls at start-up so that they can
register theirs. The engine, the config loader, the CLI and recovery ask this
module; none of them names a stage.
"""

from __future__ import annotations

import importlib
import os

from harness.chaos.stage import STAGE as CHAOS
from harness.contract.stage import STAGE as CONTRACT
from harness.load.stage import STAGE as LOAD
from harness.openapi.stage import STAGE as API
from harness.runner import Stage

BUILTIN: tuple[Stage, ...] = (LOAD, CONTRACT, CHAOS, API)

_registered: dict[str, Stage] = {}


class StageUnavailable(Exception):
    """A step kind no stage is registered for."""


def register_stage(stage: Stage) -> None:
    """Make ``stage.kind`` usable in suite files (plug-ins and tests)."""
    if any(builtin.kind == stage.kind for builtin in BUILTIN):
        raise ValueError(f"step kind {stage.kind!r} is built in")
    _registered[stage.kind] = stage


def unregister_stage(kind: str) -> None:
    _registered.pop(kind, None)


def all_stages() -> tuple[Stage, ...]:
    """Built-in stages first, then registered ones, in registration order."""
    return (*BUILTIN, *_registered.values())


def kinds() -> list[str]:
    return sorted(stage.kind for stage in all_stages())


def find_stage(kind: str) -> Stage | None:
    """The stage of ``kind``; None for an unknown kind."""
    return next((stage for stage in all_stages() if stage.kind == kind), None)


def stage_for(kind: str) -> Stage:
    """The stage running steps of ``kind``. Raises StageUnavailable."""
    stage = find_stage(kind)
    if stage is None:
        raise StageUnavailable(f"unknown step kind {kind!r}")
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
