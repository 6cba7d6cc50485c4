"""Judging canned verifier results: one criterion per interaction, never PASS on gaps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.contract.pactfile import Interaction, ProviderState
from harness.contract.plan import RESULTS_SCHEMA
from harness.contract.results import ResultsError, judge, read_results
from harness.status import Status

EXPECTED = (
    Interaction("c", "p", "get", (ProviderState("a model exists", {"name": "m"}),), "read"),
    Interaction("c", "p", "no token", (), None),
)


def item(description: str, result: str = "ok", **extra: Any) -> dict[str, Any]:
    return {
        "consumer": "c",
        "description": description,
        "provider_states": [],
        "result": result,
        "pending": False,
        "mismatches": [],
        **extra,
    }


def results(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "schema": RESULTS_SCHEMA,
        "passes": [{"scope": None, "interactions": list(items)}],
        **extra,
    }


def test_all_verified_pass() -> None:
    judgement = judge(EXPECTED, results(item("get"), item("no token")))
    assert judgement.error == ""
    assert [c.status for c in judgement.criteria] == [Status.PASS, Status.PASS]
    assert judgement.criteria[0].name == "c: get [given a model exists (name='m')]"


def test_mismatch_fails_with_path_and_state_reason() -> None:
    failing = item(
        "get",
        "error",
        mismatches=[
            {
                "path": "$.status",
                "expected": '"active"',
                "actual": '"gone"',
                "kind": "BodyMismatch",
                "message": "Expected 'gone' to match",
            }
        ],
    )
    judgement = judge(
        EXPECTED,
        results(
            failing,
            item("no token"),
            state_failures=[{"state": "a model exists", "reason": "registry answered 503"}],
        ),
    )
    criterion = judgement.criteria[0]
    assert criterion.status is Status.FAIL
    assert criterion.mismatches[0].path == "$.status"
    assert "registry answered 503" in criterion.reason and "$.status" in criterion.reason
    assert judgement.failed == 1 and judgement.error == ""


def test_pending_failure_is_skipped_not_failed() -> None:
    judgement = judge(EXPECTED, results(item("get", "error", pending=True), item("no token")))
    assert judgement.criteria[0].status is Status.SKIPPED
    assert "pending" in judgement.criteria[0].reason


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (results(item("get")), "verified 1 of 2"),
        (results(), "verified 0 of 2"),
        (results(item("get"), item("no token"), item("surprise")), "do not hold"),
        (
            {
                "schema": RESULTS_SCHEMA,
                "passes": [
                    {"scope": "read", "interactions": [item("get")]},
                    {"scope": None, "interactions": [item("get"), item("no token")]},
                ],
            },
            "verified twice",
        ),
        (
            {
                "schema": RESULTS_SCHEMA,
                "passes": [{"scope": "read", "error": "broker unreachable", "interactions": []}],
            },
            "broker unreachable",
        ),
    ],
)
def test_gaps_are_errors(payload: dict[str, Any], error: str) -> None:
    assert error in judge(EXPECTED, payload).error


def test_no_expected_interactions_is_error() -> None:
    assert "no interactions" in judge((), results()).error


def test_leftover_test_data_is_an_error_criterion() -> None:
    judgement = judge(
        EXPECTED,
        results(
            item("get"), item("no token"), cleanup_left=["model 7: registry refused the delete"]
        ),
    )
    assert judgement.criteria[-1].status is Status.ERROR
    assert "model 7" in judgement.criteria[-1].reason


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '{"schema": "other/1", "passes": []}',
        f'{{"schema": "{RESULTS_SCHEMA}", "passes": 3}}',
    ],
)
def test_unreadable_results(tmp_path: Path, text: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(ResultsError):
        read_results(path)
    with pytest.raises(ResultsError, match="no results file"):
        read_results(tmp_path / "missing.json")


def test_all_transport_errors_mean_unreachable_not_fail() -> None:
    down = {
        "path": "",
        "expected": "",
        "actual": "",
        "kind": "error",
        "message": "error sending request for url (http://127.0.0.1:9/x)",
    }
    judgement = judge(
        EXPECTED,
        results(
            item("get", "error", mismatches=[down]), item("no token", "error", mismatches=[down])
        ),
    )
    assert "could not be reached" in judgement.error
    one_down = judge(EXPECTED, results(item("get", "error", mismatches=[down]), item("no token")))
    assert one_down.error == "" and one_down.failed == 1
