"""The locustfile helper without Locust: golden sets, the golden/generated mix, echo ids,
and each answer checked against the input sent on its own request."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.load import ml
from harness.load.answers import ANSWER_KEY, Answer
from harness.load.golden import GoldenSetError, load_golden_set, matches


@pytest.mark.parametrize(
    ("expected", "actual", "ok"),
    [
        ({"p": 0.5}, {"p": 0.5000001, "extra": 1}, True),
        ({"p": 0.5}, {"p": 0.501}, False),
        ({"label": 1}, {"label": 1.0}, True),
        ({"label": "cat"}, {"label": "dog"}, False),
        ({"label": True}, {"label": 1}, False),  # bool is not a number
        ({"predictions": [1, 0]}, {"predictions": [1, 0]}, True),
        ({"predictions": [1, 0]}, {"predictions": [1]}, False),
        ({"a": {"b": 2}}, {"a": {"b": 2, "c": 3}}, True),
        ({"p": 0.5}, {}, False),
        ({"p": 0.5}, [0.5], False),
    ],
)
def test_matches(expected: object, actual: object, ok: bool) -> None:
    assert matches(expected, actual, 1e-6) is ok


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "golden.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("document", "names"),
    [
        ({"cases": []}, "schema 'harness.golden/1'"),
        ({"schema": "harness.golden/1", "cases": []}, "'cases' must be a non-empty list"),
        ({"schema": "harness.golden/1", "cases": [{"input": {}}]}, "cases[0]: 'input' and"),
        ({"schema": "harness.golden/1", "tolerance": -1, "cases": [1]}, "tolerance: must be"),
    ],
)
def test_bad_golden_sets_name_file_and_case(tmp_path: Path, document: object, names: str) -> None:
    path = write(tmp_path, document)
    with pytest.raises(GoldenSetError, match=re.escape(str(path))) as raised:
        load_golden_set(path)
    assert names in str(raised.value)


class Response:
    """What ml needs of Locust's catch_response context manager."""

    def __init__(self) -> None:
        self.request_meta: dict[str, Any] = {"context": {}}
        self.headers: dict[str, str] = {}

    @property
    def answer(self) -> Answer | None:
        return self.request_meta["context"].get(ANSWER_KEY)


GOLDEN = ml.cases_from([({"x": [1.0]}, {"y": 1}), ({"x": [2.0]}, {"y": 0})])


def test_the_mix_sends_the_golden_share_and_unique_echo_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ml.GOLDEN_SHARE_ENV, raising=False)
    inputs = ml.Inputs(lambda: {"x": [9.0]}, GOLDEN, golden_share=0.25, echo="id", seed=1)
    draws = [inputs.draw() for _ in range(2000)]
    golden = [d for d in draws if d.case is not None]
    assert 0.2 < len(golden) / len(draws) < 0.3
    assert all(d.body["x"] == d.case.input["x"] for d in golden if d.case is not None)
    assert len({d.request_id for d in draws}) == len(draws)
    assert all(d.body["id"] == d.request_id for d in draws)
    monkeypatch.setenv(ml.GOLDEN_SHARE_ENV, "0")
    assert all(ml.Inputs(lambda: {}, GOLDEN).draw().case is None for _ in range(100))


@pytest.mark.parametrize(
    ("case", "answer", "wrong", "crossed"),
    [
        (0, {"y": 1, "id": "ID"}, False, False),
        (0, {"y": 0, "id": "ID"}, True, False),
        (0, {"y": 1, "id": "other"}, False, True),
        (0, "not an object", True, True),
        (None, {"y": 5, "id": "ID"}, False, False),  # generated input: only the echo checked
    ],
)
def test_check_judges_each_answer_against_its_own_request(
    case: int | None, answer: object, wrong: bool, crossed: bool
) -> None:
    draw = ml.Draw({"x": [1.0], "id": "ID"}, None if case is None else GOLDEN.cases[case],
                   "ID", "id")
    response = Response()
    reported = ml.check(response, draw, answer, version="1")
    assert reported == Answer("1", checked=case is not None, wrong=wrong, echoed=True,
                              crossed=crossed)
    assert response.answer == reported


def test_report_needs_a_catch_response_request() -> None:
    with pytest.raises(TypeError, match="catch_response=True"):
        ml.report(object(), "1")


def test_the_testbed_golden_set_is_found_through_its_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    golden = write(tmp_path, {"schema": "harness.golden/1",
                              "cases": [{"input": {"a": 1}, "expected": {"b": 2}}]})
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"services": {"serving": {"golden_set": str(golden)}}}))
    monkeypatch.delenv(ml.GOLDEN_ENV, raising=False)
    monkeypatch.setenv("TESTBED_MANIFEST", str(manifest))
    found = ml.golden_set_from_env()
    assert found is not None and found.cases[0].expected == {"b": 2}
    monkeypatch.setenv(ml.GOLDEN_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(GoldenSetError, match=r"missing\.json"):
        ml.golden_set_from_env()


def test_without_an_echo_a_wrong_answer_that_is_another_inputs_is_a_crossover(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ml.GOLDEN_SHARE_ENV, "1")
    scored = ml.cases_from([({"x": [1.0]}, {"p": 0.91}), ({"x": [2.0]}, {"p": 0.37}),
                            ({"x": [3.0]}, {"p": 0.55})])
    inputs = ml.Inputs(lambda: {}, scored, crossover_window=8, seed=2)
    first = inputs.draw()
    second = next(d for d in iter(inputs.draw, None) if d.case is not first.case)
    assert first.case is not None and second.case is not None
    response = Response()
    crossed = ml.check(response, second, dict(first.case.expected))  # first's answer
    assert crossed.wrong and crossed.crossed
    plain_wrong = ml.check(response, second, {"p": 0.123})  # nobody's answer
    assert plain_wrong.wrong and not plain_wrong.crossed
    right = ml.check(response, second, dict(second.case.expected))
    assert not right.wrong and not right.crossed
    no_window = ml.Inputs(lambda: {}, scored, seed=2).draw()
    assert no_window.recent == ()
