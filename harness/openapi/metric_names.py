"""Runs in the driver child only: the metric names a dashboard relies on, on /metrics.

A listed name is present when a sample or family of the Prometheus text exposition has
that name, or that name followed by ``_`` and a suffix (``ml_prediction_latency`` is
served as ``ml_prediction_latency_seconds_bucket``, ``_sum``, ``_count``)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from harness.openapi.results import CheckReport
from harness.openapi.sender import Sender

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)")
_FAMILY = re.compile(r"^#\s+(?:TYPE|HELP)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)")


def exposed_names(text: str) -> set[str]:
    names: set[str] = set()
    for line in text.splitlines():
        match = _FAMILY.match(line) if line.startswith("#") else _SAMPLE.match(line)
        if match:
            names.add(match.group(1))
    return names


def is_exposed(name: str, exposed: set[str]) -> bool:
    return name in exposed or any(n.startswith(name + "_") for n in exposed)


def metric_names(sender: Sender, base_url: str, path: str, wanted: Sequence[str]) -> CheckReport:
    label = f"GET {path}"
    answer = sender.send(label, method="GET", url=base_url.rstrip("/") + path)
    if answer.status != 200:
        why = answer.error or f"answered {answer.status}"
        return CheckReport("metrics", "fail", 1, why, (answer.finding(why),))
    assert answer.response is not None
    exposed = exposed_names(answer.response.text)
    missing = [name for name in wanted if not is_exposed(name, exposed)]
    if not missing:
        return CheckReport("metrics", "pass", 1, f"{len(wanted)} names exposed of {len(exposed)}")
    findings = []
    for name in missing:
        close = difflib.get_close_matches(name, sorted(exposed), n=3, cutoff=0.5)
        hint = f" (closest exposed: {', '.join(close)})" if close else ""
        findings.append(answer.finding(f"metric {name} not exposed{hint}"))
    detail = f"{len(missing)} of {len(wanted)} names missing"
    return CheckReport("metrics", "fail", 1, detail, tuple(findings))
