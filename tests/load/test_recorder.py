"""The plugin's recording, without Locust: requests by start second, late answers,
failure reasons, unfinished requests, and the master's merge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.criteria import parse_criterion
from harness.load import histogram
from harness.load.interval import parse_line
from harness.load.judge import Judge
from harness.load.recorder import Merger, Recorder, failure_reason


class CatchResponseError(Exception):
    """Locust's own name for a locustfile's ``response.failure(text)``."""


class HTTPConnectionClosed(Exception):
    """geventhttpclient's name for a connection closed before the answer."""


class ConnectionError(Exception):
    """requests' wrapper around a transport error."""


@pytest.mark.parametrize(
    ("exception", "status", "reason"),
    [
        (CatchResponseError("bad   body:\n 42"), 200, "bad body: 42"),
        (CatchResponseError("HTTP 503"), 503, "HTTP 503"),
        (ValueError("503 Server Error"), 503, "HTTP 503"),
        (ConnectionResetError(104, "reset"), 0, "ConnectionResetError"),
        (HTTPConnectionClosed("closed"), 0, "ConnectionResetError"),
        (ConnectionError("('Connection aborted.', RemoteDisconnected(...))"), None,
         "ConnectionResetError"),
        (ConnectionRefusedError(111, "refused"), 0, "ConnectionRefusedError"),
        (TimeoutError("timed out"), 0, "timeout"),
        (TimeoutError("timed out"), 0, "timeout"),
        (KeyError("x"), 200, "KeyError"),
        (CatchResponseError("x" * 500), 200, "x" * 160),
    ],
)
def test_failure_reasons_are_normalised(exception: object, status: int | None, reason: str) -> None:
    assert failure_reason(exception, status) == reason


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_late_answer_is_shipped_for_the_second_it_started_in(tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.start(now=100.2)
    merger = Merger(tmp_path / "intervals.jsonl")
    recorder.record("GET", "/x", 100.5, 5.0, None)
    recorder.record("GET", "/x", 100.9, 2500.0, "timeout")  # started in 100, answered late
    for data in recorder.take(101, {}):
        merger.add("w1", data)
    merger.flush(workers=1)
    recorder.record("GET", "/x", 100.95, 3100.0, "ConnectionResetError")  # after 100 shipped
    recorder.record("GET", "/x", 101.1, 4.0, None)
    recorder.record_unfinished("GET", "/x", 101.5)
    for data in recorder.take(102, {}):
        merger.add("w1", data)
    merger.flush(workers=1, final=True)
    written = lines(tmp_path / "intervals.jsonl")
    assert [(w["second"], w.get("late", False)) for w in written] == [
        (100, False), (101, False), (100, True)]
    judge = Judge([parse_criterion("error_rate < 1%")], 2.0)
    for text in (tmp_path / "intervals.jsonl").read_text().splitlines():
        interval = parse_line(text).interval
        assert interval is not None
        judge.observe(interval)
    first, second = judge.intervals
    endpoint = first.endpoints["GET /x"]
    assert (first.second, endpoint.count, endpoint.failures) == (100, 3, 2)
    assert dict(endpoint.reasons) == {"timeout": 1, "ConnectionResetError": 1}
    assert histogram.max_ms(histogram.decode(endpoint.hist)) == pytest.approx(3100, rel=1e-3)
    later = second.endpoints["GET /x"]
    assert (later.count, later.failures, later.unfinished) == (2, 1, 1)
    assert dict(later.reasons) == {"unfinished": 1}
    (result,) = judge.conclude(2.0)
    assert result.reasons == (("ConnectionResetError", 1), ("timeout", 1), ("unfinished", 1))
    assert "top reasons: ConnectionResetError (1), timeout (1), unfinished (1)" in result.reason


def test_the_master_waits_for_every_worker_then_writes_a_second_once(tmp_path: Path) -> None:
    merger = Merger(tmp_path / "intervals.jsonl")
    one, two = Recorder(), Recorder()
    one.start(now=50.0)
    two.start(now=50.0)
    one.record("POST", "/p", 50.1, 1.0, None)
    two.record("POST", "/p", 50.2, 1.0, "HTTP 503")
    for data in one.take(51, {"scheduled": 3}):
        merger.add("a", data)
    merger.flush(workers=2, now=51.1)
    assert not (tmp_path / "intervals.jsonl").exists()  # worker b has not reported 50
    for data in two.take(51, {"scheduled": 4}):
        merger.add("b", data)
    merger.flush(workers=2, now=51.2)
    (line,) = lines(tmp_path / "intervals.jsonl")
    endpoint = line["endpoints"]["POST /p"]  # type: ignore[index]
    assert (endpoint["count"], endpoint["failures"], endpoint["reasons"]) == (2, 1, {"HTTP 503": 1})
    assert line["scheduled"] == 7
