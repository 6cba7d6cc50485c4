"""Results to a Pushgateway: when ``HARNESS_PUSHGATEWAY_URL`` is set, the run's verdict
document (what verdict.json will hold) is pushed as gauges (:mod:`harness.prometheus.push`).

A push that fails is a problem of the run's reports: the run becomes ERROR, and
verdict.json says so (naming the Pushgateway and the error) beside what the run itself
judged. Who set the variable expects the results there; a nightly whose trend silently
stops is worse than a red run. Unset (or empty): nothing is pushed, nothing is said.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.reporters.verdict_json import verdict_document
from harness.verdict import RunResult

PUSHGATEWAY_ENV = "HARNESS_PUSHGATEWAY_URL"


def push_problem(result: RunResult, report_dir: Path) -> str:
    """'' when pushed or when no Pushgateway is configured; else the problem, one line."""
    url = os.environ.get(PUSHGATEWAY_ENV, "").strip()
    if not url:
        return ""
    # prometheus-client only when there is something to push (the CLI starts faster)
    from harness.prometheus.push import PushError, push_results

    try:
        push_results(verdict_document(result, report_dir), url)
    except PushError as exc:
        return f"{exc} ({PUSHGATEWAY_ENV})"
    return ""
