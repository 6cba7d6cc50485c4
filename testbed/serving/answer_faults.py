"""Faults that change the answer itself, not its status or timing: ``wrong-answers``
(a 200 with the other class) and ``crossed-answers`` (a request gets the answer computed
for the request before it on the same replica, echoed ``id`` included: a buffer shared
between requests). The load stage's golden set and id echo must catch both."""

from __future__ import annotations

import random
from typing import Any

from testbed.faults import FaultState, WrongAnswersFault


class AnswerTamper:
    """One per replica: applies the answer faults of the current state to a /predict body."""

    def __init__(self) -> None:
        self._draws = random.Random()
        self._previous: dict[str, Any] | None = None

    def apply(self, state: FaultState, answer: dict[str, Any]) -> dict[str, Any]:
        if not state.faults:
            self._previous = None
            return answer
        wrong = state.find("wrong-answers")
        if isinstance(wrong, WrongAnswersFault) and self._draws.random() < wrong.rate:
            answer = {
                **answer,
                "prediction": 1 - int(answer["prediction"]),
                "probability": 1.0 - float(answer["probability"]),
            }
        if state.find("crossed-answers") is None:
            self._previous = None
            return answer
        previous, self._previous = self._previous, answer
        return previous if previous is not None else answer
