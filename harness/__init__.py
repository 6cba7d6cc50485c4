"""harness: one PASS / FAIL verdict for an ML platform release.

From Python::

    import harness
    result = harness.run("suites/smoke.yaml", target="external")
    result.verdict.status            # harness.Status.PASS / FAIL / ERROR
    result.exit_code                 # 0 / 1 / 2 / 130, as the CLI

``harness.run_async`` is the same as a coroutine. A new kind of evidence is a
:class:`Stage` registered with :func:`register_stage`. The names are imported on first
use, so that ``import harness`` stays cheap (the tools' child processes import it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "CriterionResult",
    "InvalidRun",
    "JudgedStep",
    "Problem",
    "RunResult",
    "Stage",
    "StageVerdict",
    "Status",
    "StepBase",
    "StepContext",
    "StepOutcome",
    "Verdict",
    "register_stage",
    "run",
    "run_async",
]

_HOME = {
    "CriterionResult": "harness.outcome",
    "InvalidRun": "harness.api",
    "JudgedStep": "harness.step_model",
    "Problem": "harness.runner",
    "RunResult": "harness.verdict",
    "Stage": "harness.runner",
    "StageVerdict": "harness.verdict",
    "Status": "harness.status",
    "StepBase": "harness.step_model",
    "StepContext": "harness.runner",
    "StepOutcome": "harness.outcome",
    "Verdict": "harness.verdict",
    "register_stage": "harness.stages",
    "run": "harness.api",
    "run_async": "harness.api",
}

if TYPE_CHECKING:
    from harness.api import InvalidRun, run, run_async
    from harness.outcome import CriterionResult, StepOutcome
    from harness.runner import Problem, Stage, StepContext
    from harness.stages import register_stage
    from harness.status import Status
    from harness.step_model import JudgedStep, StepBase
    from harness.verdict import RunResult, StageVerdict, Verdict


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
