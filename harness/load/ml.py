"""Locustfile helpers for ML answers: report each answer's model version and whether it
was right, so the harness can judge ``version_skew``, ``wrong_answer_rate`` and
``crossover_count`` like any other metric.

Right answers under load: mix golden inputs (request bodies with known answers) among
generated ones, and check every answer against the input sent on *its* request::

    from harness.load import ml

    INPUTS = ml.Inputs(lambda: {"features": random_row()}, ml.golden_set_from_env(),
                       golden_share=0.1, echo="id")

    class Predict(FastHttpUser):
        @task
        def predict(self):
            draw = INPUTS.draw()
            with self.client.post("/predict", json=draw.body, catch_response=True) as response:
                if response.status_code == 200:
                    ml.check(response, draw, response.json())

A golden answer that differs from its expected fields (numbers within the golden set's
tolerance) is *wrong* (``wrong_answer_rate``); with ``echo`` the helper puts a unique id in
each request body under that field and an answer that does not carry it back belongs to
another request: a *cross-over* (``crossover_count``; KServe's v2 protocol echoes ``id``).
Wrong answers are not Locust failures: their criterion names them. The model version is
read from the parsed body (``model_version: {field: ...}``) or the header the step names.

Only the version: ``ml.report(response, ml.version_of(body))``.

Use it inside the ``with ... catch_response=True`` block. The record travels in the
request's Locust context (:data:`ANSWER_KEY`) to the harness plugin, which counts it per
endpoint and second: no second parse, O(1) per request.
Outside the harness (plain ``locust -f``) the record is simply ignored.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.load.answers import ANSWER_KEY, Answer, VersionSource
from harness.load.golden import (
    GoldenCase,
    GoldenSet,
    GoldenSetError,
    cases_from,
    load_golden_set,
    matches,
)

__all__ = [
    "ANSWER_KEY", "Answer", "Draw", "GoldenSet", "GoldenSetError", "Inputs", "cases_from",
    "check", "expect", "golden_set_from_env", "load_golden_set", "report", "version_of",
]
GOLDEN_ENV = "HARNESS_GOLDEN_SET"
GOLDEN_SHARE_ENV = "HARNESS_GOLDEN_SHARE"


class _Source:
    value: VersionSource | None = None
    read = False


def _version_source() -> VersionSource | None:
    if not _Source.read:
        _Source.value = VersionSource.from_env(os.environ)
        _Source.read = True
    return _Source.value


def version_of(body: object) -> str | None:
    """The model version in a parsed JSON body, at the field the step names
    (``model_version: {field: ...}``); None without one or for a header source."""
    source = _version_source()
    return source.from_body(body) if source is not None else None


def report(
    response: Any,
    version: str | None = None,
    *,
    checked: bool = False,
    wrong: bool = False,
    echoed: bool = False,
    crossed: bool = False,
) -> Answer:
    """Attach one answer's record to its request. ``response`` is the context manager of
    a ``catch_response=True`` request (Locust reports the request when the block ends).
    Without ``version``, a header source the step names is read from the response."""
    meta = getattr(response, "request_meta", None)
    if not isinstance(meta, dict):
        raise TypeError(
            "harness.load.ml.report needs the response of a request made with "
            "catch_response=True (inside its with-block)"
        )
    if version is None:
        source = _version_source()
        if source is not None and source.header is not None:
            version = source.from_response(response)
    answer = Answer(version, checked, wrong, echoed, crossed)
    if version is None and not (checked or echoed or crossed):
        return answer  # nothing to count
    meta["context"] = {**(meta.get("context") or {}), ANSWER_KEY: answer}
    return answer


@dataclass(frozen=True)
class Draw:
    """One input to send: its body, its golden case (None: generated), its echo id."""

    body: dict[str, Any]
    case: GoldenCase | None = None
    request_id: str | None = None
    echo: str | None = None  # the body field carrying request_id
    recent: Sequence[GoldenCase] = ()  # golden cases sent just before (cross-over without echo)


class Inputs:
    """Golden inputs mixed among generated ones (``golden_share`` of the draws; the
    environment's HARNESS_GOLDEN_SHARE wins), each with a unique echo id if asked."""

    def __init__(
        self,
        generate: Callable[[], dict[str, Any]],
        golden: GoldenSet | None = None,
        *,
        golden_share: float = 0.1,
        echo: str | None = None,
        crossover_window: int = 0,
        seed: int | None = None,
    ) -> None:
        """``crossover_window`` > 0: without an echo, a wrong golden answer that is the
        expected answer of one of the last N golden inputs sent is a cross-over (only
        for golden sets whose answers tell inputs apart, such as scores; not for bare
        class labels)."""
        share = float(os.environ.get(GOLDEN_SHARE_ENV, "").strip() or golden_share)
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"golden_share must lie in [0, 1], got {share}")
        self.generate = generate
        self.golden = golden if golden is not None and len(golden) else None
        self.golden_share = share if self.golden is not None else 0.0
        self.echo = echo
        self._random = random.Random(seed)
        self._ids = itertools.count(1)
        self._prefix = f"{os.getpid():x}-{self._random.getrandbits(32):08x}-"
        self._recent: deque[GoldenCase] | None = (
            deque(maxlen=crossover_window) if crossover_window > 0 else None
        )

    def draw(self) -> Draw:
        case = None
        if self.golden is not None and self._random.random() < self.golden_share:
            case = self._random.choice(self.golden.cases)
            body = dict(case.input)
        else:
            body = self.generate()
        if self.echo is None:
            if self._recent is None or case is None:
                return Draw(body, case)
            self._recent.append(case)
            return Draw(body, case, recent=self._recent)
        request_id = f"{self._prefix}{next(self._ids)}"
        return Draw({**body, self.echo: request_id}, case, request_id, self.echo)


def expect(
    body: dict[str, Any], expected: Mapping[str, Any], tolerance: float = 1e-6
) -> Draw:
    """A draw whose answer is known without a golden file (the input was built so that
    the right answer follows from it): ``check`` compares the answer with ``expected``."""
    return Draw(body, GoldenCase(body, expected, tolerance))


def check(response: Any, draw: Draw, answer: object, *, version: str | None = None) -> Answer:
    """Check one parsed answer against the input sent on its request, and report it:
    wrong (a golden input's expected fields differ), crossed (the echo id is not this
    request's), the model version (``version``, else the step's field or header)."""
    wrong = draw.case is not None and not matches(draw.case.expected, answer, draw.case.tolerance)
    echoed = draw.request_id is not None
    crossed = echoed and (
        not isinstance(answer, Mapping) or answer.get(draw.echo) != draw.request_id
    )
    if wrong and not echoed and draw.recent:
        crossed = any(
            other is not draw.case and matches(other.expected, answer, other.tolerance)
            for other in tuple(draw.recent)
        )
    if version is None:
        version = version_of(answer)
    return report(
        response, version, checked=draw.case is not None, wrong=wrong, echoed=echoed,
        crossed=crossed,
    )


def golden_set_from_env() -> GoldenSet | None:
    """HARNESS_GOLDEN_SET (a path), else the testbed's (TESTBED_MANIFEST), else None.
    A named file that cannot be used raises GoldenSetError naming it."""
    named = os.environ.get(GOLDEN_ENV, "").strip()
    if named:
        return load_golden_set(Path(named))
    manifest = os.environ.get("TESTBED_MANIFEST", "").strip()
    if not manifest:
        return None
    try:
        data = json.loads(Path(manifest).read_text())
        path = data["services"]["serving"].get("golden_set") or ""
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return load_golden_set(Path(path)) if path else None
