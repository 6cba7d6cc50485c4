"""The Pact Broker side of a contract step (orchestrator process; httpx, no pact).

- :func:`fetch_pacts` — the pacts for verification (selectors, pending, WIP), saved as
  artifacts and counted by the harness like local ones.
- Verification results: with one verifier pass the verifier publishes them itself
  (``set_publish_options``) and :func:`verifier_publication` reads its log for the
  outcome; with several passes (one per token scope) each pass would publish a partial
  result, so the verifier publishes nothing and :func:`publish_aggregated` posts one
  result per pact, built from every interaction's criterion.
- :func:`can_i_deploy` — one criterion from ``GET /can-i-deploy``.

Tested against a stand-in broker (tests/contract/broker_standin.py): no real Pact Broker
can run on the development machine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.contract.broker import BrokerClient, BrokerError, FetchedPact
from harness.contract.pactfile import (
    PactFile,
    PactFileError,
    PactSelection,
    parse_pact,
    read_pact,
)
from harness.contract.spec import ContractStep
from harness.outcome import CriterionResult
from harness.status import Status

PUBLISHED = "verification results published to the broker"
PUBLISH_FAILED = "Publishing of verification results failed"


@dataclass(frozen=True)
class BrokerPacts:
    selection: PactSelection
    fetched: tuple[tuple[PactFile, FetchedPact], ...]


async def fetch_pacts(
    spec: ContractStep, url: str, token: str | None, pact_dir: Path
) -> BrokerPacts:
    async with BrokerClient(url, token) as client:
        fetched = await client.pacts_for_verification(
            spec.provider,
            selectors=[s.to_broker() for s in spec.broker.consumer_version_selectors],
            include_pending=spec.broker.include_pending,
            include_wip_since=spec.broker.include_wip_since,
            provider_branch=spec.broker.provider_branch,
        )
    if not fetched:
        raise PactFileError(
            f"the broker has no pacts for provider {spec.provider!r} matching the selectors"
        )
    pairs = []
    for index, pact in enumerate(fetched):
        parsed = parse_pact(pact.content, Path(pact.url))
        if spec.consumers and parsed.consumer not in spec.consumers:
            continue
        path = pact_dir / f"{index:02d}-{parsed.consumer}-{parsed.provider}.json"
        path.write_text(json.dumps(pact.content, indent=2), encoding="utf-8")
        pairs.append((read_pact(path), pact))
    if spec.consumers and not pairs:
        raise PactFileError(
            f"consumer filter {spec.consumers} matches no pact the broker has for {spec.provider!r}"
        )
    if any(f.provider != spec.provider for f, _ in pairs):
        raise PactFileError(
            f"the broker returned pacts for a provider other than {spec.provider!r}"
        )
    selection = PactSelection(tuple(f for f, _ in pairs))
    if not selection.interactions:
        raise PactFileError(f"the broker's pacts for {spec.provider!r} hold no interaction")
    return BrokerPacts(selection, tuple(pairs))


def verifier_publication(*logs: Path) -> CriterionResult:
    """Did the verifier publish its results? It says so only in its log (the FFI results
    carry no publication status), and only when publishing failed."""
    for log in logs:
        try:
            text = log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            if PUBLISH_FAILED in line:
                return CriterionResult(
                    name=PUBLISHED, status=Status.ERROR, reason=line.strip()[:300]
                )
    return CriterionResult(name=PUBLISHED, status=Status.PASS, observed="published by the verifier")


async def publish_aggregated(
    spec: ContractStep,
    url: str,
    token: str | None,
    pacts: BrokerPacts,
    verdicts: Mapping[tuple[str, str], CriterionResult],
) -> CriterionResult:
    """One verification result per pact: success when every interaction passed."""
    version = spec.broker.provider_version or ""
    published = 0
    try:
        async with BrokerClient(url, token) as client:
            for pact_file, fetched in pacts.fetched:
                results = [
                    {
                        "interactionDescription": i.description,
                        "success": verdicts[i.key].status is Status.PASS,
                    }
                    for i in pact_file.interactions
                    if i.key in verdicts
                ]
                await client.publish_verification(
                    fetched,
                    success=bool(results) and all(r["success"] for r in results),
                    provider_version=version,
                    provider_branch=spec.broker.provider_branch,
                    test_results=results,
                )
                published += 1
    except BrokerError as exc:
        return CriterionResult(
            name=PUBLISHED, status=Status.ERROR, observed=f"{published} pacts", reason=str(exc)
        )
    return CriterionResult(name=PUBLISHED, status=Status.PASS, observed=f"{published} pacts")


async def can_i_deploy(spec: ContractStep, url: str, token: str | None) -> CriterionResult:
    cid = spec.broker.can_i_deploy
    pacticipant = cid.pacticipant or spec.provider
    version = cid.version or spec.broker.provider_version or ""
    name = f"can-i-deploy {pacticipant} {version}" + (
        f" to {cid.to_environment}" if cid.to_environment else ""
    )
    try:
        async with BrokerClient(url, token) as client:
            check = await client.can_i_deploy(pacticipant, version, cid.to_environment)
    except BrokerError as exc:
        return CriterionResult(name=name, status=Status.ERROR, reason=str(exc))
    if check.deployable is None:
        return CriterionResult(
            name=name,
            status=Status.ERROR,
            observed="unknown",
            reason=check.reason or "the broker could not decide",
        )
    return CriterionResult(
        name=name,
        status=Status.PASS if check.deployable else Status.FAIL,
        observed="deployable" if check.deployable else "not deployable",
        threshold="deployable",
        reason=check.reason,
    )


def verdicts_by_key(
    keys: Sequence[tuple[str, str]], criteria: Sequence[CriterionResult]
) -> dict[tuple[str, str], CriterionResult]:
    """Pair each expected interaction's key with its criterion (same order)."""
    return dict(zip(keys, criteria, strict=False))
