"""Provider verification of model-registry, end to end: the committed consumer pact, the
real verifier (child process) and the real registry (``python -m testbed.registry``),
started empty — every provider state is set up through the public API."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from harness.status import Status
from tests.contract.conftest import ROOT, TOKENS, Registry, make_target, run_step

pytestmark = pytest.mark.e2e

REGISTRY_PACT = ROOT / "contracts" / "pacts" / "pipeline-orchestrator-model-registry.json"
INTERACTIONS = len(json.loads(REGISTRY_PACT.read_text())["interactions"])


async def test_healthy_registry_passes_and_leaves_no_data(
    clean_registry: Registry, tmp_path: Path
) -> None:
    before = clean_registry.model_count()
    async with asyncio.timeout(60):
        run = await run_step(tmp_path, make_target(clean_registry.url))
    outcome = run.outcome
    assert outcome.status is Status.PASS, (outcome.summary, outcome.criteria)
    assert len(outcome.criteria) == INTERACTIONS >= 9
    assert all(c.status is Status.PASS for c in outcome.criteria)
    assert outcome.metrics["interactions_verified"] == INTERACTIONS
    assert clean_registry.model_count() == before
    # Every artifact is listed and none holds a secret.
    names = {p.name for p in outcome.artifacts}
    assert {"pact-results.json", "verifier.stdout.log"} <= names
    for path in (tmp_path / "report").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            for secret in (TOKENS.read, TOKENS.write, TOKENS.admin):
                assert secret not in text, path


@pytest.mark.parametrize(
    ("fault", "interaction", "path"),
    [
        ("registry-rename-field", "a request for an existing model", "$"),
        ("registry-retype-field", "a request for an existing model", "$.metrics.auc"),
        ("registry-wrong-status", "a request to register a new model version", "status"),
        ("registry-bad-enum", "a request for an existing model", "$.status"),
    ],
)
async def test_contract_defect_fails_naming_interaction_and_path(
    clean_registry: Registry, tmp_path: Path, fault: str, interaction: str, path: str
) -> None:
    before = clean_registry.model_count()
    clean_registry.set_faults(fault)
    async with asyncio.timeout(60):
        run = await run_step(tmp_path, make_target(clean_registry.url))
    outcome = run.outcome
    assert outcome.status is Status.FAIL, (outcome.summary, outcome.criteria)
    failed = {c.name.split(" [")[0]: c for c in outcome.criteria if c.status is Status.FAIL}
    key = f"pipeline-orchestrator: {interaction}"
    assert key in failed, sorted(failed)
    assert any(m.path == path for m in failed[key].mismatches), failed[key].mismatches
    clean_registry.set_faults()
    assert clean_registry.model_count() == before


async def test_state_that_cannot_be_set_up_fails_fast(tmp_path: Path, registry: Registry) -> None:
    """A read token where the state handler needs write: setup is refused (403), the
    handler answers 400 and the verifier fails those interactions at once."""
    weak = type(TOKENS)(read=TOKENS.read, write=TOKENS.read, admin=TOKENS.admin)
    async with asyncio.timeout(60):
        run = await run_step(tmp_path, make_target(registry.url, tokens=weak))
    assert run.elapsed_s < 20, run.elapsed_s
    assert run.outcome.status is Status.FAIL
    stateful = [c for c in run.outcome.criteria if "[given" in c.name]
    assert stateful and all(c.status is Status.FAIL for c in stateful)
    registering = [c for c in stateful if "given a model" in c.name]
    assert registering
    assert all("could not be set up" in c.reason for c in registering)
    assert all("403" in c.reason for c in registering)


async def test_unknown_provider_state_fails_fast(tmp_path: Path, registry: Registry) -> None:
    pacts = tmp_path / "pacts"
    pacts.mkdir()
    pact = json.loads(REGISTRY_PACT.read_text())
    pact["interactions"] = [i for i in pact["interactions"] if i.get("providerStates")][:1]
    pact["interactions"][0]["providerStates"][0]["name"] = "a galaxy far away exists"
    (pacts / "p.json").write_text(json.dumps(pact))
    async with asyncio.timeout(60):
        run = await run_step(tmp_path, make_target(registry.url), pacts=str(pacts))
    assert run.elapsed_s < 20
    assert run.outcome.status is Status.FAIL
    assert "unknown provider state" in run.outcome.criteria[0].reason


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"provider": "model-registri"}, "no pact names provider 'model-registri'"),
        ({"consumers": ["nobody"]}, "consumer filter ['nobody'] matches no pact"),
        ({"pacts": "EMPTY"}, "no pact files"),
        ({"pacts": "MISSING"}, "does not exist"),
        ({"pacts": "NOINTERACTIONS"}, "hold no interaction"),
        ({"pacts": "GARBAGE"}, "not valid JSON"),
    ],
)
async def test_nothing_to_verify_is_error(
    tmp_path: Path, registry: Registry, spec: dict[str, object], reason: str
) -> None:
    special = {
        "EMPTY": tmp_path / "empty",
        "MISSING": tmp_path / "missing",
        "NOINTERACTIONS": tmp_path / "none",
        "GARBAGE": tmp_path / "garbage",
    }
    special["EMPTY"].mkdir()
    special["NOINTERACTIONS"].mkdir()
    pact = json.loads(REGISTRY_PACT.read_text())
    pact["interactions"] = []
    (special["NOINTERACTIONS"] / "p.json").write_text(json.dumps(pact))
    special["GARBAGE"].mkdir()
    (special["GARBAGE"] / "p.json").write_text("{not json")
    if spec.get("pacts") in special:
        spec = {**spec, "pacts": str(special[str(spec["pacts"])])}
    async with asyncio.timeout(30):
        run = await run_step(tmp_path, make_target(registry.url), **spec)
    assert run.outcome.status is Status.ERROR
    assert reason in run.outcome.summary, run.outcome.summary


async def test_consumer_filter_selects_only_that_consumer(
    tmp_path: Path, registry: Registry
) -> None:
    pacts = tmp_path / "pacts"
    pacts.mkdir()
    shutil.copy(REGISTRY_PACT, pacts)
    other = json.loads(REGISTRY_PACT.read_text())
    other["consumer"]["name"] = "someone-else"
    other["interactions"] = other["interactions"][:1]
    other["interactions"][0]["response"]["status"] = 599  # would fail if verified
    (pacts / "someone-else-model-registry.json").write_text(json.dumps(other))
    async with asyncio.timeout(60):
        run = await run_step(
            tmp_path,
            make_target(registry.url),
            pacts=str(pacts),
            consumers=["pipeline-orchestrator"],
        )
    assert run.outcome.status is Status.PASS, run.outcome.summary
    assert run.outcome.metrics["consumers"] == ["pipeline-orchestrator"]
    assert len(run.outcome.criteria) == INTERACTIONS


async def test_descriptions_with_regex_metacharacters_split_into_passes(
    tmp_path: Path, registry: Registry
) -> None:
    """Passes select interactions by an escaped description regex (Rust regex syntax)."""
    rule = {
        "header": {
            "Authorization": {
                "combine": "AND",
                "matchers": [{"match": "regex", "regex": "^Bearer .+$"}],
            }
        }
    }
    pact = {
        "consumer": {"name": "c"},
        "provider": {"name": "model-registry"},
        "metadata": {"pactSpecification": {"version": "4.0"}},
        "interactions": [
            {
                "type": "Synchronous/HTTP",
                "description": "get-model #1 (a&b) ~x. + *?",
                "request": {
                    "method": "GET",
                    "path": "/models/999999999",
                    "headers": {"Authorization": ["Bearer read-token"]},
                    "matchingRules": rule,
                },
                "response": {"status": 404},
            },
            {
                "type": "Synchronous/HTTP",
                "description": "no token [x] {y} ^$ | \\ back",
                "request": {"method": "GET", "path": "/models/1"},
                "response": {"status": 401},
            },
        ],
    }
    pacts = tmp_path / "pacts"
    pacts.mkdir()
    (pacts / "c-model-registry.json").write_text(json.dumps(pact))
    async with asyncio.timeout(30):
        run = await run_step(tmp_path, make_target(registry.url), pacts=str(pacts))
    assert run.outcome.status is Status.PASS, run.outcome.summary
    assert run.outcome.metrics["interactions_verified"] == 2


async def test_unreachable_provider_is_error_not_fail(tmp_path: Path) -> None:
    async with asyncio.timeout(30):
        run = await run_step(tmp_path, make_target("http://127.0.0.1:9"))
    assert run.outcome.status is Status.ERROR, run.outcome.summary
    assert "could not be reached" in run.outcome.summary
    assert run.elapsed_s < 20


async def test_target_without_tokens_is_error(tmp_path: Path, registry: Registry) -> None:
    async with asyncio.timeout(30):
        run = await run_step(
            tmp_path, make_target(registry.url, tokens=type(TOKENS)()), name="no-tokens"
        )
    assert run.outcome.status is Status.ERROR
    assert "no read token configured for the target" in run.outcome.summary
