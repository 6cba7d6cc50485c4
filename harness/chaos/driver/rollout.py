"""Rolling model update of the local testbed, as chaos activities.

``roll_out_model(version)``: register the served model's versions in the registry (once per
testbed), put the serving deployment under the registry's control, record the rollout in the
ledger, promote ``version`` to production, and wait until serving's deployer has finished
(or failed). What the rollout looked like from the clients' side is judged from the answers
that ``harness.chaos.driver.answers.watch_answers`` recorded meanwhile.

``settle_rollout()`` (the rollback): never leave serving half-rolled (see
:mod:`harness.chaos.rollouts`).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from harness.chaos.driver.answers import wait_until_watching
from harness.chaos.driver.own import revert_own
from harness.chaos.driver.testbed import FaultError, current_manifest, fault_injected, manifest_path
from harness.chaos.ledger import new_record, write_record
from harness.chaos.rollouts import RolloutError, ensure_registered, promote, serving_dir
from harness.chaos.stream import append_event


def roll_out_model(version: str = "2.0.0", timeout_s: float = 60.0) -> dict[str, Any]:
    """Promote ``version`` in the registry; return the deployer's state once it settled."""
    from testbed.serving.model import MODEL_NAME
    from testbed.serving.rollout_state import follow_model, read_rollout_state

    wait_until_watching()
    manifest = current_manifest()
    where = serving_dir(manifest)
    current = read_rollout_state(where)
    if current.version == version:
        raise FaultError(f"serving already runs {MODEL_NAME} {version}: nothing to roll out")
    try:
        ids = ensure_registered(manifest, [current.version, version])
        promote(manifest, ids[current.version])  # what runs now is production (no rollout)
        follow_model(where, ids[current.version])
        time.sleep(0.5)  # the deployer has looked at least once: production == deployed
        target = f"{MODEL_NAME} {current.version}->{version}"
        record = new_record(
            "model-rollout",
            target,
            manifest_path=str(manifest_path()),
            extra={"version": version, "previous": current.version, "model_id": ids[version]},
        )
        write_record(record)
        promoted_at = time.time()
        promote(manifest, ids[version])
    except RolloutError as exc:
        raise FaultError(str(exc)) from None
    fault_injected("model-rollout", target, record.id)
    deadline = time.monotonic() + timeout_s
    state = read_rollout_state(where)
    while time.monotonic() < deadline:
        state = read_rollout_state(where)
        if state.state in ("done", "failed") and state.started_at >= promoted_at:
            break
        time.sleep(0.1)
    settled = state.state in ("done", "failed") and state.started_at >= promoted_at
    result = {**asdict(state), "replaced": list(state.replaced), "settled": settled}
    append_event(
        "rollout-finished",
        promoted_at=promoted_at,
        target=version,
        previous=current.version,
        done=settled and state.state == "done",
        finished_at=state.finished_at,
        detail=state.detail,
    )
    return result


def settle_rollout() -> list[str]:
    """The rollback: a finished rollout stays; anything half-done goes back (verified)."""
    return revert_own("model-rollout")
