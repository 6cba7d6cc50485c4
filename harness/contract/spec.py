"""The suite-file model of a contract step. Owned by the contract stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.config.step_base import StepBase


class ContractStep(StepBase):
    kind: Literal["contract"] = "contract"
    provider: str = "model-registry"
    pacts: str = "contracts/pacts"
    consumers: list[str] = Field(default_factory=list)
    service: Literal["serving", "registry", "orchestrator"] = "registry"
