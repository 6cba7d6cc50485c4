"""What a rollout is doing, in two small JSON files of the serving dir (``STATE_DIR/serving``).

- ``deployment.json`` ``{"model_id": N}``: the registered model this deployment follows (any
  version's id: the registry lists a name's versions from it). Written by whoever puts the
  deployment under the registry's control (the harness's rollout action); absent means the
  deployment follows nothing and never rolls.
- ``rollout.json``: written by the serving master's deployer, ``{"schema", "version" (the
  version deployed or being rolled out), "previous", "state": "idle" | "rolling" | "done" |
  "failed", "started_at", "finished_at", "detail", "replaced": [pod names]}``.

Both are replaced whole (temp file + rename): readers never see half a file.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from testbed.serving.model import MODEL_VERSION
from wholefile import write_atomically

ROLLOUT_SCHEMA = "testbed.rollout/1"
RolloutPhase = Literal["idle", "rolling", "done", "failed"]


@dataclass(frozen=True)
class RolloutState:
    version: str = MODEL_VERSION
    previous: str = ""
    state: RolloutPhase = "idle"
    started_at: float = 0.0
    finished_at: float = 0.0
    detail: str = ""
    replaced: tuple[str, ...] = field(default_factory=tuple)


def rollout_path(serving_dir: Path) -> Path:
    return serving_dir / "rollout.json"


def deployment_path(serving_dir: Path) -> Path:
    return serving_dir / "deployment.json"


def write_rollout_state(serving_dir: Path, state: RolloutState) -> None:
    data = {"schema": ROLLOUT_SCHEMA, **asdict(state), "replaced": list(state.replaced)}
    write_atomically(rollout_path(serving_dir), json.dumps(data, indent=2) + "\n")


def read_rollout_state(serving_dir: Path) -> RolloutState:
    """The deployer's state; a missing or unreadable file is "idle on the first version"."""
    try:
        data = json.loads(rollout_path(serving_dir).read_text())
        phase = str(data["state"])
        if phase not in ("idle", "rolling", "done", "failed"):
            return RolloutState()
        return RolloutState(
            version=str(data["version"]),
            previous=str(data.get("previous", "")),
            state=phase,  # type: ignore[arg-type]  # checked just above
            started_at=float(data.get("started_at", 0.0)),
            finished_at=float(data.get("finished_at", 0.0)),
            detail=str(data.get("detail", "")),
            replaced=tuple(str(n) for n in data.get("replaced", [])),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return RolloutState()


def follow_model(serving_dir: Path, model_id: int) -> None:
    """Put the deployment under the registry's control: follow registered model ``model_id``."""
    write_atomically(deployment_path(serving_dir), json.dumps({"model_id": model_id}) + "\n")


def followed_model(serving_dir: Path) -> int | None:
    try:
        return int(json.loads(deployment_path(serving_dir).read_text())["model_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clear_rollout_state(serving_dir: Path) -> None:
    """A fresh deployment: following nothing, on the first version."""
    for path in (rollout_path(serving_dir), deployment_path(serving_dir)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
