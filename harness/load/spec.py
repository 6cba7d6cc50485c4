"""The suite-file model of a load step. Owned by the load stage.

    - name: inference
      kind: load
      locustfile: loadtests/inference.py
      user_classes: [InferenceUser]
      users: 20
      duration: 5m
      criteria: ["p95 < 100ms", {expr: "error_rate < 1%", abort: true}]

Open model (requests start on schedule whatever the responses do): name a user
class derived from ``harness.load.arrival.ArrivalRateUser`` and give

      arrival_rate: {rate: 200, ramp_to: 400, poisson: false, max_in_flight: 500}

Model version of every answer (``version_skew``): ``model_version: {field: model_version}``
(a JSON body field, dotted for nesting) or ``{header: X-Model-Version}``, optionally
``expected: "1.0.0"`` (else the first version seen is the expected one).

Distributed beyond this machine: ``workers: {expect: 4, bind_host: 0.0.0.0,
bind_port: 5557}`` makes this process the master and waits for remote workers
started with ``locust -f - --worker --master-host HOST`` (they download the
locustfile and the harness plugin from the master into their temp dir, by file name:
give each worker its own ``TMPDIR``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.step_model import CriterionOrPromql, JudgedStep
from harness.units import DurationS


class ArrivalRate(BaseModel):
    """Open-model arrivals, for every user of an ArrivalRateUser class together."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate: float = Field(gt=0, le=1_000_000, description="arrivals per second at the start")
    ramp_to: float | None = Field(
        default=None, gt=0, le=1_000_000, description="arrivals per second at the end"
    )
    poisson: bool = Field(default=False, description="exponential gaps instead of fixed ones")
    max_in_flight: int = Field(default=500, ge=1, le=1_000_000)


class RemoteWorkers(BaseModel):
    """Locust master here, ``expect`` workers anywhere (no local worker processes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expect: int = Field(ge=1, le=10_000)
    bind_host: str = "*"
    bind_port: int = Field(default=5557, ge=1, le=65535)
    max_wait: DurationS = Field(default=60.0, description="how long to wait for the workers")


class ModelVersion(BaseModel):
    """Where each answer says which model version served it (exactly one of the two)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"^[^.\s]+(\.[^.\s]+)*$",
        description="JSON body field, dotted for nesting (model.version)",
    )
    header: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
    )
    expected: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="the version every answer must carry (default: the first one seen)",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ModelVersion:
        if (self.field is None) == (self.header is None):
            raise ValueError("give exactly one of field (a JSON body field) or header")
        return self


class LoadStep(JudgedStep):
    kind: Literal["load"] = "load"
    criteria: tuple[CriterionOrPromql, ...] = Field(  # type: ignore[assignment]
        default=(),
        description='"p95 < 100ms", {expr, abort, for, phase}, or PromQL: '
        '{promql: QUERY, "<": 1, over: end|window, phase, step, name}',
    )
    locustfile: str
    user_classes: list[str] = Field(default_factory=list)
    service: str = Field(default="serving", description="the target service the load hits")
    users: int = Field(default=10, ge=1, le=100_000)
    spawn_rate: float = Field(default=10.0, gt=0, le=100_000, allow_inf_nan=False)
    duration: DurationS = 30.0
    processes: int | None = Field(
        default=None, ge=1, le=64, description="local worker processes; default one per core"
    )
    stop_timeout: DurationS = Field(default=5.0, description="grace for running tasks at the end")
    arrival_rate: ArrivalRate | None = None
    workers: RemoteWorkers | None = None
    model_version: ModelVersion | None = Field(
        default=None, description="the body field or header carrying the model version"
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="extra environment for the locust processes"
    )
    cpu_query: str | None = Field(
        default=None,
        description="PromQL giving the target's CPU utilisation as a fraction of its cores "
        "(remote targets with target.prometheus_url)",
    )
