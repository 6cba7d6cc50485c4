"""Pact selection and counting, token scopes, verifier passes, the suite check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.contract.pactfile import PactFileError, parse_pact, select_pacts
from harness.contract.spec import ContractStep
from harness.contract.stage import STAGE, plan_passes
from harness.contract.verifier import exact_regex
from tests.contract.conftest import ROOT

PACTS = ROOT / "contracts" / "pacts"


def interaction(
    description: str,
    headers: dict[str, object] | None = None,
    rules: dict[str, object] | None = None,
) -> dict[str, object]:
    request: dict[str, object] = {"method": "GET", "path": "/x"}
    if headers is not None:
        request["headers"] = headers
    if rules is not None:
        request["matchingRules"] = rules
    return {"description": description, "request": request, "response": {"status": 200}}


REGEX_RULE = {"header": {"Authorization": {"matchers": [{"match": "regex", "regex": "^B"}]}}}


@pytest.mark.parametrize(
    ("headers", "rules", "scope"),
    [
        (None, None, None),
        ({"Authorization": ["Bearer not-a-valid-token"]}, None, None),
        ({"Authorization": ["Bearer read-token"]}, REGEX_RULE, "read"),
        ({"Authorization": ["Bearer write-token"]}, REGEX_RULE, "write"),
        ({"authorization": "Bearer admin-token"}, REGEX_RULE, "admin"),
        ({"Authorization": ["Bearer xyz"]}, REGEX_RULE, "write"),
        (
            {"Authorization": "Bearer read-token"},
            {"$.headers.Authorization": {"match": "regex"}},
            "read",
        ),  # pact V2
    ],
)
def test_token_scope_from_the_authorization_header(
    headers: dict[str, object] | None, rules: dict[str, object] | None, scope: str | None
) -> None:
    raw = {
        "consumer": {"name": "c"},
        "provider": {"name": "p"},
        "interactions": [interaction("i", headers, rules)],
    }
    (parsed,) = parse_pact(raw, Path("p.json")).interactions
    assert parsed.scope == scope


def test_committed_registry_pact_needs_three_passes() -> None:
    selection = select_pacts(PACTS, "model-registry")
    passes = plan_passes(selection.interactions)
    assert [p.scope for p in passes] == ["read", "write", None]
    assert sum(len(p.descriptions) for p in passes) == len(selection.interactions)
    unauthenticated = set(passes[-1].descriptions)
    assert unauthenticated == {"a request without a token", "a request with an unknown token"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "expected a JSON object"),
        ({"provider": {"name": "p"}, "interactions": []}, "'consumer.name' is missing"),
        ({"consumer": {"name": "c"}, "provider": {"name": "p"}}, "'interactions' must be"),
        (
            {"consumer": {"name": "c"}, "provider": {"name": "p"}, "interactions": [{}]},
            "interactions[0]: needs a 'description'",
        ),
    ],
)
def test_not_a_pact(raw: object, message: str) -> None:
    with pytest.raises(PactFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_pact(raw, Path("p.json"))


def test_duplicate_descriptions_are_refused(tmp_path: Path) -> None:
    raw = {
        "consumer": {"name": "c"},
        "provider": {"name": "p"},
        "interactions": [interaction("same"), interaction("same")],
    }
    (tmp_path / "p.json").write_text(json.dumps(raw))
    with pytest.raises(PactFileError, match="described twice"):
        select_pacts(tmp_path, "p")


@pytest.mark.parametrize(
    "text",
    ["a request (with parens) + plus", "dots. and $dollar ^caret [x]", "plain words"],
)
def test_exact_regex_matches_only_that_description(text: str) -> None:
    import re

    pattern = re.compile(exact_regex([text, "other"]))
    assert pattern.match(text)
    assert pattern.match("other")
    assert not pattern.match(text + " more")
    assert not pattern.match("x" + text)


def test_check_reports_problems_without_starting_anything(tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    good = ContractStep(name="c")
    assert STAGE.check(good, ROOT, suite) == []
    assert STAGE.check(ContractStep(name="c", provider="model-serving"), ROOT, suite) == []
    bad = [
        ContractStep(name="c", provider="nobody"),
        ContractStep(name="c", consumers=["nobody"]),
        ContractStep(name="c", pacts=str(tmp_path / "missing")),
    ]
    for step in bad:
        problems = STAGE.check(step, ROOT, suite)
        assert problems and all(str(p).startswith(str(suite)) for p in problems), step


def test_a_contract_step_refuses_criteria() -> None:
    with pytest.raises(ValidationError, match="judged per interaction; it takes no criteria"):
        ContractStep.model_validate({"name": "c", "criteria": ["p95 < 10ms"]})


def test_check_broker_needs_url_and_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PACT_BROKER_BASE_URL", raising=False)
    step = ContractStep.model_validate(
        {
            "name": "c",
            "broker": {"enabled": True, "publish_results": True, "can_i_deploy": {"enabled": True}},
        }
    )
    fields = {p.field for p in STAGE.check(step, ROOT, tmp_path / "s.yaml")}
    assert fields == {"c.broker", "c.broker.provider_version", "c.broker.can_i_deploy.version"}


def test_spec_rejects_unknown_fields_and_bad_dates() -> None:
    with pytest.raises(ValueError, match="extra"):
        ContractStep.model_validate({"name": "c", "brokr": {}})
    with pytest.raises(ValueError, match="include_wip_since"):
        ContractStep.model_validate({"name": "c", "broker": {"include_wip_since": "last week"}})
    assert ContractStep(name="c", provider="model-serving").target_service == "serving"
