"""Target providers: bring the platform under test up (or find it), hand the
runners a :class:`harness.target.Target`, and tear down what they started.

``open_target(...)`` is an async context manager; it raises
:class:`TargetUnavailable` (with the reason and, for the local testbed, its log
tail) when the target does not come up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.config.suite import TargetKindName, TargetSpec
from harness.target import Target
from harness.targets.errors import TargetUnavailable
from harness.targets.external import external_target, kubernetes_target
from harness.targets.local import local_target
from harness.targets.services import resolve_process_groups

__all__ = ["TargetOptions", "TargetUnavailable", "open_target"]


@dataclass(frozen=True)
class TargetOptions:
    report_dir: Path
    base_dir: Path
    extra_faults: tuple[str, ...] = ()
    run_id: str = ""


@asynccontextmanager
async def open_target(
    spec: TargetSpec, kind: TargetKindName, options: TargetOptions
) -> AsyncIterator[Target]:
    if kind == "local":
        async with local_target(
            spec.testbed, options.report_dir, options.base_dir, options.extra_faults, options.run_id
        ) as target:
            yield with_processes(target, spec)
    elif kind == "external":
        async with external_target(spec.external, options.base_dir) as target:
            yield with_processes(target, spec)
    else:
        async with kubernetes_target(spec.external, spec.kubernetes) as target:
            yield with_processes(target, spec)


def with_processes(target: Target, spec: TargetSpec) -> Target:
    """The target with the suite's local process groups (``${HARNESS_PLATFORM_DIR}``
    expanded to the launcher's directory)."""
    if not spec.local_processes:
        return target
    extra = {"HARNESS_PLATFORM_DIR": str(target.platform_dir)} if target.platform_dir else {}
    groups = resolve_process_groups(spec.local_processes, extra)
    return dataclasses.replace(target, local_processes=groups)
