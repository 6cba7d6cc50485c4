"""Locustfile helpers for ML answers: report each answer's model version and whether it
was right, so the harness can judge ``version_skew``, ``wrong_answer_rate`` and
``crossover_count`` like any other metric.

Use inside a ``with self.client.post(..., catch_response=True) as response:`` block,
after parsing the body once yourself::

    from harness.load import ml

    body = response.json()
    ml.report(response, version=ml.version_of(body))

The record travels in the request's Locust context (:data:`ANSWER_KEY`) to the harness
plugin, which counts it per endpoint and second: no second parse, O(1) per request.
Outside the harness (plain ``locust -f``) the record is simply ignored.
"""

from __future__ import annotations

import os
from typing import Any

from harness.load.answers import ANSWER_KEY, Answer, VersionSource

__all__ = ["ANSWER_KEY", "Answer", "report", "version_of"]


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
    answer = Answer(version=version, checked=checked, wrong=wrong, crossed=crossed)
    if version is None and not checked:
        return answer  # nothing to count
    meta["context"] = {**(meta.get("context") or {}), ANSWER_KEY: answer}
    return answer
