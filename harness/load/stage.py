"""The load stage: ``STAGE``, listed in :data:`harness.stages.BUILTIN`.

Importing this module never imports locust or gevent (tests pin that).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.criteria import Criterion
from harness.load.inspection import (
    LocustfileFacts,
    inspect_locustfile,
    probe_locustfile,
    probe_locustfiles,
    reap_dead_probe_dirs,
    unknown_classes,
)
from harness.load.runner import run_load
from harness.load.spec import LoadStep
from harness.outcome import StepOutcome
from harness.runner import Problem, StepContext


class LoadStage:
    kind = "load"
    step_model = LoadStep
    supports_dry_run = False

    def recover(self) -> list[str]:
        # locust runs in the step's process group, reaped on every path; what is left is
        # the locustfile probe's directory of a harness killed while checking a suite
        return reap_dead_probe_dirs()

    def check(self, spec: object, base_dir: Path, suite_file: Path) -> list[Problem]:
        if not isinstance(spec, LoadStep):
            return [Problem(suite_file, None, "kind", "not a load step")]
        facts = inspect_locustfile((base_dir / spec.locustfile).resolve())
        problems = _static_problems(spec, facts, suite_file)
        if not problems:
            problems = _import_problems(facts.path, spec, base_dir, suite_file)
        return problems + _criteria_problems(spec, suite_file)

    def prepare_check(self, specs: Sequence[object], base_dir: Path) -> None:
        """Before the step-by-step checks: every locustfile of the suite that :meth:`check`
        will import, imported in one child process (locust imported once)."""
        items = []
        for spec in specs:
            if isinstance(spec, LoadStep):
                facts = inspect_locustfile((base_dir / spec.locustfile).resolve())
                if not _static_problems(spec, facts, Path()):
                    items.append((facts.path, spec.user_classes))
        probe_locustfiles(items, base_dir)

    async def run(self, ctx: StepContext) -> StepOutcome:
        return await run_load(ctx)


def _static_problems(spec: LoadStep, facts: LocustfileFacts, suite_file: Path) -> list[Problem]:
    """What the locustfile's text shows wrong (missing, syntax, classes not there)."""
    problems: list[Problem] = []
    where = f"step {spec.name!r}"
    if facts.problem:
        in_file = facts.problem_line is not None
        problems.append(
            Problem(
                facts.path if in_file else suite_file,
                facts.problem_line,
                "locustfile",
                f"{where}: {facts.problem}",
            )
        )
    else:
        missing = unknown_classes(facts, spec.user_classes)
        if missing:
            known = ", ".join(sorted(facts.classes)) or "none"
            problems.append(
                Problem(
                    suite_file, None, "user_classes",
                    f"{where}: {', '.join(missing)} not defined in {spec.locustfile} "
                    f"(classes there: {known})",
                )
            )
        elif not spec.user_classes and not any(
            name.endswith("User") or name.endswith("Arrivals") for name in facts.classes
        ):
            problems.append(
                Problem(
                    suite_file, None, "locustfile",
                    f"{where}: {spec.locustfile} defines no class that looks like a "
                    "Locust user; name one in user_classes",
                )
            )
    return problems


def _criteria_problems(spec: LoadStep, suite_file: Path) -> list[Problem]:
    problems: list[Problem] = []
    where = f"step {spec.name!r}"
    for index, criterion in enumerate(spec.criteria):
        if not isinstance(criterion, Criterion):
            continue  # PromQL: judged against the target's Prometheus
        pipeline = criterion.metric == "completion_rate" or criterion.metric.startswith(
            "pipeline_"
        )
        if pipeline and criterion.labels:
            problems.append(
                Problem(
                    suite_file, None, f"criteria[{index}]",
                    f"{where}: {criterion.metric} takes no name selector",
                )
            )
        if criterion.metric == "version_skew" and spec.model_version is None:
            problems.append(
                Problem(
                    suite_file, None, f"criteria[{index}]",
                    f"{where}: 'version_skew' needs model_version: {{field: NAME}} or "
                    "{header: NAME} (where each answer carries its model version)",
                )
            )
        if criterion.metric == "unsent" and spec.arrival_rate is None:
            problems.append(
                Problem(
                    suite_file, None, f"criteria[{index}]",
                    f"{where}: 'unsent' needs an open model (arrival_rate)",
                )
            )
    return problems


def _import_problems(
    path: Path, spec: LoadStep, base_dir: Path, suite_file: Path
) -> list[Problem]:
    """The locustfile imports and its user classes are Locust Users (child process)."""
    found = probe_locustfile(path, spec.user_classes, base_dir)
    if found is None:
        return []
    message, line = found
    field = "user_classes" if message.startswith("user_classes:") else "locustfile"
    message = message.removeprefix("user_classes: ")
    where = path if line is not None else suite_file
    return [Problem(where, line, field, f"step {spec.name!r}: {message}")]


STAGE = LoadStage()
