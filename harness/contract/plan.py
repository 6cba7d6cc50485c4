"""What the parent asks the verifier child to do, as a JSON file (no secrets in it).

Secrets travel in the child's environment only: the registry tokens as JSON in
``HARNESS_PACT_TOKENS`` and the broker token in ``PACT_BROKER_TOKEN``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.contract.pactfile import Scope
from harness.contract.state_sources import StateSource

PLAN_SCHEMA = "harness.pact-plan/1"
RESULTS_SCHEMA = "harness.pact-results/1"
TOKENS_ENV = "HARNESS_PACT_TOKENS"
HEADERS_ENV = "HARNESS_PACT_HEADERS"  # the provider service's headers (secrets: env only)


@dataclass(frozen=True)
class VerifyPass:
    """One run of the verifier: the interactions (by description) that need ``scope``'s
    token injected as ``Authorization`` (None: send the requests as the pact wrote them)."""

    scope: Scope | None
    descriptions: tuple[str, ...]
    stateful: bool = True  # False: no interaction has a provider state (no state calls)


@dataclass(frozen=True)
class BrokerSource:
    url: str
    selectors: tuple[dict[str, object], ...]
    include_pending: bool
    include_wip_since: str | None
    publish_version: str | None
    publish_branch: str | None
    provider_branch: str | None


@dataclass(frozen=True)
class VerifyPlan:
    provider: str
    provider_url: str
    passes: tuple[VerifyPass, ...]
    pact_files: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    broker: BrokerSource | None = None
    registry_url: str | None = None  # set when provider states go through a registry
    run_prefix: str = "harness"
    request_timeout_ms: int = 5000
    extra: dict[str, Any] = field(default_factory=dict)
    states: dict[str, str] | None = None  # a StateSource as JSON; None: see state_source()

    def state_source(self) -> StateSource | None:
        """Where provider states come from; a plan with only ``registry_url`` (written
        before ``states:`` existed) means the testbed registry."""
        if self.states is not None:
            return StateSource.from_json(self.states)
        if self.registry_url:
            return StateSource("testbed-registry", base_url=self.registry_url)
        return None

    def write(self, path: Path) -> None:
        data = {"schema": PLAN_SCHEMA, **asdict(self)}
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")

    @staticmethod
    def read(path: Path) -> VerifyPlan:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("schema") != PLAN_SCHEMA:
            raise ValueError(f"{path}: not a {PLAN_SCHEMA} file")
        broker = raw.get("broker")
        return VerifyPlan(
            provider=raw["provider"],
            provider_url=raw["provider_url"],
            passes=tuple(
                VerifyPass(p["scope"], tuple(p["descriptions"]), bool(p.get("stateful", True)))
                for p in raw["passes"]
            ),
            pact_files=tuple(raw.get("pact_files", ())),
            consumers=tuple(raw.get("consumers", ())),
            broker=BrokerSource(
                url=broker["url"],
                selectors=tuple(broker["selectors"]),
                include_pending=broker["include_pending"],
                include_wip_since=broker["include_wip_since"],
                publish_version=broker["publish_version"],
                publish_branch=broker["publish_branch"],
                provider_branch=broker["provider_branch"],
            )
            if broker
            else None,
            registry_url=raw.get("registry_url"),
            run_prefix=raw.get("run_prefix", "harness"),
            request_timeout_ms=int(raw.get("request_timeout_ms", 5000)),
            extra=dict(raw.get("extra", {})),
            states=dict(raw["states"]) if raw.get("states") else None,
        )
