"""The suite-file model of a contract step. Owned by the contract stage.

A contract step verifies one provider (``model-registry`` or ``model-serving``)
against the pacts its consumers wrote, either from a local directory (``pacts``)
or from a Pact Broker (``broker.enabled``; URL and token from the environment
variables ``PACT_BROKER_BASE_URL`` and ``PACT_BROKER_TOKEN``, never from the suite).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.step_model import StepBase
from harness.units import DurationS

BROKER_URL_ENV = "PACT_BROKER_BASE_URL"
BROKER_TOKEN_ENV = "PACT_BROKER_TOKEN"


class ConsumerVersionSelector(BaseModel):
    """One consumer version selector, as the broker's pacts-for-verification takes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    main_branch: bool = False
    branch: str | None = None
    deployed_or_released: bool = False
    deployed: bool = False
    released: bool = False
    environment: str | None = None
    latest: bool | None = None
    consumer: str | None = None

    def to_broker(self) -> dict[str, object]:
        """The selector in the broker's JSON spelling (camelCase, unset keys left out)."""
        raw: dict[str, object] = {
            "mainBranch": self.main_branch or None,
            "branch": self.branch,
            "deployedOrReleased": self.deployed_or_released or None,
            "deployed": self.deployed or None,
            "released": self.released or None,
            "environment": self.environment,
            "latest": self.latest,
            "consumer": self.consumer,
        }
        return {key: value for key, value in raw.items() if value is not None}


class CanIDeploy(BaseModel):
    """A can-i-deploy check, judged as one criterion of the step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    pacticipant: str | None = Field(default=None, description="default: the step's provider")
    version: str | None = Field(default=None, description="default: broker.provider_version")
    to_environment: str | None = "production"


class BrokerOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    consumer_version_selectors: list[ConsumerVersionSelector] = Field(
        default_factory=lambda: [
            ConsumerVersionSelector(main_branch=True),
            ConsumerVersionSelector(deployed_or_released=True),
        ]
    )
    include_pending: bool = True
    include_wip_since: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD"
    )
    publish_results: bool = False
    provider_version: str | None = None
    provider_branch: str | None = None
    can_i_deploy: CanIDeploy = Field(default_factory=CanIDeploy)


class StatesFromModule(BaseModel):
    """Provider states from a Python callable ``handler(state, params, action) -> dict``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    module: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$")


class StatesFromUrl(BaseModel):
    """Provider states from the provider's own state-change URL (Pact's protocol)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://")


StatesSpec = Literal["testbed-registry", "mlflow"] | StatesFromModule | StatesFromUrl


class ContractStep(StepBase):
    kind: Literal["contract"] = "contract"
    provider: str = "model-registry"
    pacts: str = "contracts/pacts"
    consumers: list[str] = Field(default_factory=list)
    service: str | None = Field(
        default=None,
        description="which target service serves the provider; default: serving for "
        "model-serving, orchestrator for pipeline-orchestrator, else registry",
    )
    states: StatesSpec | None = Field(
        default=None,
        description="where provider states come from; default: testbed-registry when the "
        "provider is served by the registry service, else none",
    )
    request_timeout: DurationS = Field(
        default=5.0, description="per request the verifier sends to the provider"
    )
    broker: BrokerOptions = Field(default_factory=BrokerOptions)

    @model_validator(mode="before")
    @classmethod
    def _no_criteria(cls, data: Any) -> Any:
        if isinstance(data, dict) and "criteria" in data:
            raise ValueError("a contract step is judged per interaction; it takes no criteria")
        return data

    @property
    def target_service(self) -> str:
        if self.service is not None:
            return self.service
        return _SERVICE_BY_PROVIDER.get(self.provider, "registry")

    @property
    def state_source_kind(self) -> str | None:
        """ "testbed-registry" | "mlflow" | "module" | "url", or None (no states)."""
        if isinstance(self.states, StatesFromModule):
            return "module"
        if isinstance(self.states, StatesFromUrl):
            return "url"
        if self.states is not None:
            return self.states
        return "testbed-registry" if self.target_service == "registry" else None


_SERVICE_BY_PROVIDER: dict[str, str] = {
    "model-serving": "serving",
    "pipeline-orchestrator": "orchestrator",
    "model-registry": "registry",
}
