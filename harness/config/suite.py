"""The suite-file model: which target, which stages, which steps.

Steps are kept as plain mappings here and validated afterwards against the
spec model registered for their ``kind`` (see :mod:`harness.stages`), so that
stages (and test plug-ins) can add kinds without this module knowing them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.config.services import LauncherSpec, LocalProcessSpec, ServiceName, ServiceSpec
from harness.units import DurationS

TargetKindName = Literal["local", "external", "kubernetes"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TestbedSpec(_Strict):
    replicas: int = Field(default=2, ge=1, le=32)
    faults: list[str] = Field(default_factory=list)
    database_url: str | None = None
    ready_timeout: DurationS = 60.0
    rate_limit_rps: float | None = Field(
        default=None, gt=0, description="serving's rate limit (429 above it); none by default"
    )


class TokenEnvSpec(_Strict):
    """Names of environment variables holding the tokens (never the tokens themselves)."""

    read_env: str | None = None
    write_env: str | None = None
    admin_env: str | None = None


class ExternalSpec(_Strict):
    registry_url: str | None = None
    serving_url: str | None = None
    orchestrator_url: str | None = None
    prometheus_url: str | None = None  # for resource criteria (cpu_utilisation) remotely
    tokens: TokenEnvSpec = Field(default_factory=TokenEnvSpec)
    ready_timeout: DurationS = 30.0
    services: dict[ServiceName, ServiceSpec] = Field(default_factory=dict)
    launcher: LauncherSpec | None = None


class KubernetesSpec(_Strict):
    namespace: str = "default"
    context: str | None = None
    kubeconfig: str | None = None
    allowed_namespaces: list[str] = Field(default_factory=list)
    allowed_contexts: list[str] = Field(default_factory=list)
    # node- or namespace-level chaosk8s actions the experiments may call, by full name
    allowed_actions: list[str] = Field(default_factory=list)
    # Chaos Mesh externalTargets beyond the Services of allowed namespaces
    allowed_external_targets: list[str] = Field(default_factory=list)


class TargetSpec(_Strict):
    kind: TargetKindName = "local"
    testbed: TestbedSpec = Field(default_factory=TestbedSpec)
    external: ExternalSpec = Field(default_factory=ExternalSpec)
    kubernetes: KubernetesSpec = Field(default_factory=KubernetesSpec)
    local_processes: dict[ServiceName, LocalProcessSpec] = Field(default_factory=dict)


MAX_STEPS_PER_STAGE = 32
"""A stage runs its steps at once: each is a tool process tree (Locust, a verifier, chaos)."""


class StageSpec(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    steps: list[dict[str, Any]] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _bounded(cls, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(steps) > MAX_STEPS_PER_STAGE:
            raise ValueError(
                f"a stage runs its steps concurrently: at most {MAX_STEPS_PER_STAGE} steps"
                f" per stage, got {len(steps)}; split them into stages"
            )
        return steps


class SuiteSpec(_Strict):
    """A suite file before its steps are validated against their kinds."""

    name: str = Field(min_length=1)
    description: str = ""
    fail_fast: bool = True
    target: TargetSpec = Field(default_factory=TargetSpec)
    stages: list[StageSpec] = Field(min_length=1)
