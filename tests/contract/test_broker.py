"""The broker flow against the stand-in (tests/contract/broker_standin.py; no real Pact
Broker can run here): publish pacts, verify with selectors and pending, publish the
verification results, can-i-deploy as a criterion."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.contract.publish import main as publish_main
from harness.contract.publish import publish_dir
from harness.status import Status
from tests.contract.broker_standin import RunningBroker, serve_broker
from tests.contract.conftest import ROOT, TOKENS, Registry, make_target, run_step

pytestmark = pytest.mark.e2e

BROKER_TOKEN = "broker-secret-5e11"
PACTS = ROOT / "contracts" / "pacts"
BROKER_SPEC = {
    "enabled": True,
    "publish_results": True,
    "provider_version": "registry-1.4.0",
    "provider_branch": "main",
    "can_i_deploy": {"enabled": True},
}


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningBroker]:
    for running in serve_broker(BROKER_TOKEN):
        monkeypatch.setenv("PACT_BROKER_BASE_URL", running.url)
        monkeypatch.setenv("PACT_BROKER_TOKEN", BROKER_TOKEN)
        yield running


async def test_publish_verify_publish_results_can_i_deploy(
    broker: RunningBroker, clean_registry: Registry, tmp_path: Path
) -> None:
    async with asyncio.timeout(60):
        lines = await publish_dir(PACTS, broker.url, BROKER_TOKEN, "orch-abc123", "main")
        assert any("pipeline-orchestrator orch-abc123" in line for line in lines)
        body = broker.state.publish_bodies[0]
        assert body["branch"] == "main" and body["pacticipantVersionNumber"] == "orch-abc123"

        run = await run_step(tmp_path, make_target(clean_registry.url), broker=BROKER_SPEC)
    outcome = run.outcome
    assert outcome.status is Status.PASS, (outcome.summary, outcome.criteria)
    names = [c.name for c in outcome.criteria]
    assert "can-i-deploy model-registry registry-1.4.0 to production" in names
    asked = broker.state.for_verification_bodies[-1]
    assert {"mainBranch": True} in asked["consumerVersionSelectors"]
    assert {"deployedOrReleased": True} in asked["consumerVersionSelectors"]
    assert asked["includePendingStatus"] is True
    assert asked["providerVersionBranch"] == "main"
    published = [v for v in broker.state.verifications if v["provider"] == "model-registry"]
    # Three verifier passes (read, write, no token), one aggregated result per pact.
    assert len(published) == 1 and published[0]["success"], published
    assert all(v["provider_version"] == "registry-1.4.0" for v in published)
    assert ("model-registry", "main", "registry-1.4.0") in broker.state.branch_versions
    assert "verification results published to the broker" in names
    for path in (tmp_path / "report").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert BROKER_TOKEN not in text and TOKENS.write not in text, path


async def test_failed_verification_is_published_and_blocks_deploy(
    broker: RunningBroker, clean_registry: Registry, tmp_path: Path
) -> None:
    clean_registry.set_faults("registry-bad-enum")
    async with asyncio.timeout(60):
        await publish_dir(PACTS, broker.url, BROKER_TOKEN, "orch-abc123", "main")
        # Never verified yet, so the pact would be pending; judge it as a required pact.
        run = await run_step(
            tmp_path,
            make_target(clean_registry.url),
            broker={**BROKER_SPEC, "include_pending": False},
        )
    outcome = run.outcome
    assert outcome.status is Status.FAIL, outcome.summary
    can = next(c for c in outcome.criteria if c.name.startswith("can-i-deploy"))
    assert can.status is Status.FAIL and can.observed == "not deployable"
    (published,) = broker.state.verifications
    assert published["success"] is False


async def test_pending_pact_failure_does_not_fail_the_step(
    broker: RunningBroker, clean_registry: Registry, tmp_path: Path
) -> None:
    pacts = tmp_path / "pacts"
    pacts.mkdir()
    pact = json.loads((PACTS / "pipeline-orchestrator-model-registry.json").read_text())
    pact["consumer"]["name"] = "new-consumer"
    pact["interactions"] = [i for i in pact["interactions"] if not i.get("providerStates")][:1]
    pact["interactions"][0]["response"]["status"] = 418  # the provider does not do this yet
    (pacts / "new-consumer-model-registry.json").write_text(json.dumps(pact))
    async with asyncio.timeout(60):
        await publish_dir(pacts, broker.url, BROKER_TOKEN, "new-1", "main")
        run = await run_step(
            tmp_path,
            make_target(clean_registry.url),
            broker={"enabled": True, "include_pending": True},
        )
    outcome = run.outcome
    assert outcome.status is Status.ERROR, outcome.summary  # nothing required was judged
    assert "1 failed in pending pacts" in outcome.summary
    assert "every result is from a pending pact" in outcome.summary
    (criterion,) = outcome.criteria
    assert criterion.status is Status.SKIPPED
    assert "pending" in criterion.reason


async def test_broker_without_pacts_for_provider_is_error(
    broker: RunningBroker, clean_registry: Registry, tmp_path: Path
) -> None:
    async with asyncio.timeout(30):
        run = await run_step(tmp_path, make_target(clean_registry.url), broker={"enabled": True})
    assert run.outcome.status is Status.ERROR
    assert "no pacts for provider" in run.outcome.summary


async def test_broker_rejecting_token_is_error(
    broker: RunningBroker,
    clean_registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PACT_BROKER_TOKEN", "wrong-token")
    async with asyncio.timeout(30):
        run = await run_step(tmp_path, make_target(clean_registry.url), broker={"enabled": True})
    assert run.outcome.status is Status.ERROR
    assert "HTTP 401" in run.outcome.summary
    assert "wrong-token" not in run.outcome.summary


def test_publish_cli(broker: RunningBroker, capsys: pytest.CaptureFixture[str]) -> None:
    code = publish_main(["--pacts", str(PACTS), "--consumer-version", "v9", "--branch", "main"])
    assert code == 0
    out = capsys.readouterr().out
    assert "published inference-gateway v9" in out and BROKER_TOKEN not in out
    assert {p.consumer for p in broker.state.pacts} == {
        "inference-gateway",
        "pipeline-orchestrator",
    }


async def test_pending_failure_beside_verified_pacts_passes(
    broker: RunningBroker, clean_registry: Registry, tmp_path: Path
) -> None:
    pacts = tmp_path / "pacts"
    pacts.mkdir()
    pact = json.loads((PACTS / "pipeline-orchestrator-model-registry.json").read_text())
    pact["consumer"]["name"] = "new-consumer"
    pact["interactions"] = [i for i in pact["interactions"] if not i.get("providerStates")][:1]
    pact["interactions"][0]["response"]["status"] = 418
    (pacts / "new-consumer-model-registry.json").write_text(json.dumps(pact))
    async with asyncio.timeout(60):
        await publish_dir(PACTS, broker.url, BROKER_TOKEN, "orch-1", "main")
        await publish_dir(pacts, broker.url, BROKER_TOKEN, "new-1", "main")
        run = await run_step(tmp_path, make_target(clean_registry.url), broker={"enabled": True})
    outcome = run.outcome
    assert outcome.status is Status.PASS, outcome.summary
    skipped = [c for c in outcome.criteria if c.status is Status.SKIPPED]
    assert [c.name.split(":")[0] for c in skipped] == ["new-consumer"]
    assert "1 failed in pending pacts" in outcome.summary


async def test_wip_pact_from_a_feature_branch_is_verified_as_pending(
    broker: RunningBroker, clean_registry: Registry, tmp_path: Path
) -> None:
    pacts = tmp_path / "pacts"
    pacts.mkdir()
    pact = json.loads((PACTS / "pipeline-orchestrator-model-registry.json").read_text())
    pact["consumer"]["name"] = "feature-consumer"
    pact["interactions"] = [i for i in pact["interactions"] if not i.get("providerStates")][:1]
    pact["interactions"][0]["response"]["status"] = 418
    (pacts / "feature-consumer-model-registry.json").write_text(json.dumps(pact))
    async with asyncio.timeout(60):
        await publish_dir(PACTS, broker.url, BROKER_TOKEN, "orch-1", "main")
        await publish_dir(pacts, broker.url, BROKER_TOKEN, "feat-1", "feature-x")
        without = await run_step(
            tmp_path / "a", make_target(clean_registry.url), broker={"enabled": True}
        )
        with_wip = await run_step(
            tmp_path / "b",
            make_target(clean_registry.url),
            broker={"enabled": True, "include_wip_since": "2026-01-01"},
        )
    assert without.outcome.status is Status.PASS
    assert not any(c.name.startswith("feature-consumer") for c in without.outcome.criteria)
    assert broker.state.for_verification_bodies[-1]["includeWipPactsSince"] == "2026-01-01"
    assert with_wip.outcome.status is Status.PASS, with_wip.outcome.summary
    (wip,) = [c for c in with_wip.outcome.criteria if c.name.startswith("feature-consumer")]
    assert wip.status is Status.SKIPPED and "pending" in wip.reason


async def test_single_pass_verifier_publishes_its_own_results(
    broker: RunningBroker, clean_registry: Registry, tmp_path: Path
) -> None:
    """Every interaction needs the read token: one verifier pass, which publishes the
    result itself (set_publish_options)."""
    pacts = tmp_path / "pacts"
    pacts.mkdir()
    pact = json.loads((PACTS / "pipeline-orchestrator-model-registry.json").read_text())
    pact["interactions"] = [
        i
        for i in pact["interactions"]
        if "read-token" in json.dumps(i["request"].get("headers", {}))
    ]
    (pacts / "pipeline-orchestrator-model-registry.json").write_text(json.dumps(pact))
    async with asyncio.timeout(60):
        await publish_dir(pacts, broker.url, BROKER_TOKEN, "orch-2", "main")
        run = await run_step(tmp_path, make_target(clean_registry.url), broker=BROKER_SPEC)
    outcome = run.outcome
    assert outcome.status is Status.PASS, (outcome.summary, outcome.criteria)
    published = next(c for c in outcome.criteria if c.name.startswith("verification results"))
    assert published.observed == "published by the verifier"
    (result,) = broker.state.verifications
    assert result["success"] and result["provider_version"] == "registry-1.4.0"
    assert ("model-registry", "main", "registry-1.4.0") in broker.state.branch_versions


async def test_broker_consumer_filter(
    broker: RunningBroker, clean_registry: Registry, tmp_path: Path
) -> None:
    async with asyncio.timeout(60):
        await publish_dir(PACTS, broker.url, BROKER_TOKEN, "orch-1", "main")
        nobody = await run_step(
            tmp_path / "a",
            make_target(clean_registry.url),
            broker={"enabled": True},
            consumers=["nobody"],
        )
        only = await run_step(
            tmp_path / "b",
            make_target(clean_registry.url),
            broker={"enabled": True},
            consumers=["pipeline-orchestrator"],
        )
    assert nobody.outcome.status is Status.ERROR
    assert "consumer filter ['nobody'] matches no pact" in nobody.outcome.summary
    assert only.outcome.status is Status.PASS, only.outcome.summary
    assert only.outcome.metrics["consumers"] == ["pipeline-orchestrator"]
