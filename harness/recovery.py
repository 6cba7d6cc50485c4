"""Everything a killed run can leave behind, put right: faults in the ledger first
(reverting a fault switch needs its testbed still running), then testbeds whose
harness run died. Called by ``harness recover`` and at the start of every run."""

from __future__ import annotations

from harness.chaos.recovery import recover_all
from harness.paths import project_root
from harness.targets.leases import reap_orphaned_testbeds


def recover_everything() -> list[str]:
    """One line per thing reverted or stopped; empty when nothing was left."""
    return [*recover_all(), *reap_orphaned_testbeds(project_root())]
