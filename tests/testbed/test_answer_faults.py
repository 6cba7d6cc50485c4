"""The answer faults (wrong-answers, crossed-answers) and the golden set written beside
the trained model: pure functions and one real training (about a second)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.load.golden import load_golden_set, matches
from testbed.faults import build_fault_state
from testbed.serving.answer_faults import AnswerTamper
from testbed.serving.golden import golden_set_path
from testbed.serving.model import load_model, train_model


def answer(n: int) -> dict[str, object]:
    return {"prediction": n % 2, "probability": 0.9, "id": f"r{n}"}


@pytest.mark.parametrize(
    ("specs", "ids", "predictions"),
    [
        ([], ["r1", "r2", "r3"], [1, 0, 1]),
        (["wrong-answers"], ["r1", "r2", "r3"], [0, 1, 0]),
        (["wrong-answers:rate=0"], ["r1", "r2", "r3"], [1, 0, 1]),
        (["crossed-answers"], ["r1", "r1", "r2"], [1, 1, 0]),  # each gets the one before
        (["latency:ms=1"], ["r1", "r2", "r3"], [1, 0, 1]),
    ],
)
def test_answer_faults(specs: list[str], ids: list[str], predictions: list[int]) -> None:
    tamper, state = AnswerTamper(), build_fault_state(specs)
    answers = [tamper.apply(state, answer(n)) for n in (1, 2, 3)]
    assert [a["id"] for a in answers] == ids
    assert [a["prediction"] for a in answers] == predictions


def test_the_golden_set_is_the_models_own_answers(tmp_path: Path) -> None:
    artifact = train_model(tmp_path / "model.joblib")
    golden = load_golden_set(golden_set_path(artifact))
    assert len(golden) == 200
    model = load_model(artifact)
    for case in golden.cases[:50]:
        predicted = model.predict(list(case.input["features"]))
        got = {"prediction": predicted.prediction, "probability": predicted.probability}
        assert matches(case.expected, got, case.tolerance), (case, got)
    assert {c.expected["prediction"] for c in golden.cases} == {0, 1}
