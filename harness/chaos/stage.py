"""The chaos stage: ``STAGE.check`` validates a step's experiment without importing chaoslib
or starting anything; ``STAGE.run`` runs it (see :mod:`harness.chaos.runner`)."""

from __future__ import annotations

from pathlib import Path

from harness.chaos.experiment import (
    ExperimentError,
    check_blast_radius,
    check_structure,
    load_experiment,
)
from harness.chaos.recovery import live_faults, recover_all
from harness.chaos.runner import run_chaos
from harness.chaos.spec import ChaosStep
from harness.outcome import StepOutcome
from harness.runner import Problem, StepContext


class ChaosStage:
    kind = "chaos"
    step_model = ChaosStep
    supports_dry_run = True  # prints what would be hit; injects nothing

    def recover(self) -> list[str]:
        """Revert the faults in the ledger that a killed run left behind."""
        return recover_all()

    def live(self) -> list[str]:
        """The ledger's faults of runs still alive (recovery leaves them alone)."""
        return live_faults()

    def check(self, spec: object, base_dir: Path, suite_file: Path) -> list[Problem]:
        """The experiment exists, parses, has the Chaos Toolkit keys and a steady state, its
        python providers are importable (located, not imported) and define the function,
        and every selector is within the local allowlist. Never raises for user mistakes."""
        if not isinstance(spec, ChaosStep):
            return [Problem(suite_file, None, "kind", "not a chaos step")]
        problems: list[Problem] = []
        path = Path(spec.experiment)
        path = path if path.is_absolute() else base_dir / path
        try:
            experiment = load_experiment(path)
        except ExperimentError as exc:
            unread = list(exc.problems) or [
                Problem(path, None, f"{spec.name}.experiment", str(exc))
            ]
            return [*problems, *unread]
        for found in check_structure(experiment) + check_blast_radius(experiment):
            problems.append(Problem(path, found.line, found.field, found.message))
        return problems

    async def run(self, ctx: StepContext) -> StepOutcome:
        return await run_chaos(ctx)


STAGE = ChaosStage()
