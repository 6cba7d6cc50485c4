"""What the stage hands the driver child: a plan file (no secret in it) and the tokens
in an environment variable. Shared by both sides; imports nothing heavy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.openapi.spec import ApiStep

TOKENS_ENV = "HARNESS_API_TOKENS"
"""``{"read", "write", "admin"}`` as JSON: the target's tokens, never written to a file."""


@dataclass(frozen=True)
class DrivePlan:
    step: ApiStep
    base_url: str
    openapi: str
    """A URL or a file path: where the driver loads the OpenAPI document from."""

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step.model_dump(mode="json", by_alias=True),
            "base_url": self.base_url,
            "openapi": self.openapi,
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")


def read_plan(path: Path) -> DrivePlan:
    data = json.loads(path.read_text(encoding="utf-8"))
    step = ApiStep.model_validate(data["step"])
    return DrivePlan(step, str(data["base_url"]), str(data["openapi"]))
