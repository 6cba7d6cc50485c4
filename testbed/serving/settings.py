"""Where a serving replica finds its files: one JSON written at deploy time.

Gunicorn workers import the app themselves (no preload), so the deployment passes this
file's path in the ``TESTBED_SERVING_SETTINGS`` environment variable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

SETTINGS_ENV = "TESTBED_SERVING_SETTINGS"


class ServingSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    state_dir: Path
    model_source_path: Path
    """The trained artifact ("the artifact store"): fetched once into ``model_path``."""
    model_path: Path
    """The deployed artifact each replica loads when it boots."""
    fault_state_path: Path
    rate_limit_path: Path
    tokens_file: Path
    pods_dir: Path
    replicas: int
    registry_url: str | None = None
    """The registry whose promotions the serving master rolls out (None: no rollouts)."""


def settings_from_env() -> ServingSettings:
    path = os.environ.get(SETTINGS_ENV)
    if not path:
        raise RuntimeError(f"{SETTINGS_ENV} is not set: start serving through testbed")
    return ServingSettings.model_validate(json.loads(Path(path).read_text()))


def write_settings(path: Path, settings: ServingSettings) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(settings.model_dump_json(indent=2) + "\n")
