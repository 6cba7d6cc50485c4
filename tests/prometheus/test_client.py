"""The query client and the PromQL judge against the real Prometheus (no stand-in)."""

from __future__ import annotations

import time

import pytest

from harness.outcome import PhaseMark
from harness.prometheus.client import PrometheusClient, PrometheusError
from harness.prometheus.criterion import parse_promql_criterion
from harness.prometheus.judge import NO_PROMETHEUS, Window, judge_promql, phase_window
from harness.status import Status
from tests.prometheus_servers import PrometheusServers

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(60)]

SELF_UP = 'up{job="prometheus"}'


@pytest.fixture
def scraping(prometheus: PrometheusServers) -> PrometheusServers:
    """The session's Prometheus once it has scraped itself a few times."""
    prometheus.wait_for(f"count_over_time({SELF_UP}[1m]) >= 3")
    return prometheus


async def test_instant_query_answers_samples(scraping: PrometheusServers) -> None:
    client = PrometheusClient(scraping.prometheus_url)
    samples = await client.query(SELF_UP)
    assert len(samples) == 1
    assert samples[0].value == 1.0
    assert samples[0].labels["job"] == "prometheus"
    scalar = await client.query("scalar(vector(2.5))")
    assert [s.value for s in scalar] == [2.5]
    assert await client.query("no_such_metric_here") == []


async def test_range_query_answers_points(scraping: PrometheusServers) -> None:
    client = PrometheusClient(scraping.prometheus_url)
    now = time.time()
    series = await client.query_range(SELF_UP, now - 3, now, 1.0)
    assert len(series) == 1
    assert len(series[0].points) >= 3
    assert {value for _, value in series[0].points} == {1.0}


async def test_a_parse_error_is_quoted(scraping: PrometheusServers) -> None:
    client = PrometheusClient(scraping.prometheus_url)
    with pytest.raises(PrometheusError) as caught:
        await client.query("sum(rate(x[30s])")
    message = str(caught.value)
    assert "sum(rate(x[30s])" in message and "bad_data" in message and "parse error" in message


async def test_an_unreachable_prometheus_is_named() -> None:
    client = PrometheusClient("http://127.0.0.1:9", timeout_s=2)
    with pytest.raises(PrometheusError, match=r"127\.0\.0\.1:9 unreachable for 'up'"):
        await client.query("up")


async def _judge(servers: PrometheusServers, raw: object) -> tuple[Status, str, object]:
    now = time.time()
    result = await judge_promql(
        PrometheusClient(servers.prometheus_url),
        parse_promql_criterion(raw),  # type: ignore[arg-type]
        Window(now - 3, now),
    )
    return result.status, result.reason, result.observed


async def test_judged_at_the_end_pass_and_fail(scraping: PrometheusServers) -> None:
    status, reason, observed = await _judge(scraping, {"promql": SELF_UP, ">=": 1})
    assert (status, observed) == (Status.PASS, 1.0), reason
    status, reason, observed = await _judge(scraping, {"promql": SELF_UP, "<": 1})
    assert (status, observed) == (Status.FAIL, 1.0)
    assert 'instance="127.0.0.1:' in reason and 'job="prometheus"' in reason


async def test_judged_over_the_window_every_point(scraping: PrometheusServers) -> None:
    status, reason, _ = await _judge(scraping, {"promql": SELF_UP, "==": 1, "over": "window"})
    assert status is Status.PASS, reason
    assert "range query" in reason and "points" in reason


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"promql": "no_such_metric_here", "<": 1}, "empty result"),
        ({"promql": "no_such_metric_here", "<": 1, "over": "window"}, "empty result"),
        ({"promql": "sum(rate(x[30s])", "<": 1}, "parse error"),
        ({"promql": "vector(0) / vector(0)", "<": 1}, "not a number"),
        ({"promql": "vector(0) / vector(0)", "<": 1, "over": "window"}, "non-number"),
    ],
)
async def test_nothing_to_judge_is_an_error_never_a_pass(
    scraping: PrometheusServers, raw: object, words: str
) -> None:
    status, reason, observed = await _judge(scraping, raw)
    assert status is Status.ERROR and observed is None
    assert words in reason
    assert str(raw["promql"]) in reason  # type: ignore[index]


async def test_no_prometheus_is_an_error() -> None:
    result = await judge_promql(
        None, parse_promql_criterion({"promql": "up", "<": 1}), Window(0, 1)
    )
    assert (result.status, result.reason) == (Status.ERROR, NO_PROMETHEUS)


async def test_a_phase_never_recorded_is_an_error(scraping: PrometheusServers) -> None:
    now = time.time()
    result = await judge_promql(
        PrometheusClient(scraping.prometheus_url),
        parse_promql_criterion({"promql": SELF_UP, ">=": 1, "phase": "fault"}),
        Window(now - 3, now),
        [PhaseMark("baseline", now - 3)],
    )
    assert result.status is Status.ERROR and "phase fault was not recorded" in result.reason


def test_phase_windows_from_marks() -> None:
    step = Window(100.0, 200.0)
    marks = [PhaseMark("baseline", 100.0), PhaseMark("fault", 130.0),
             PhaseMark("recovery", 150.0)]
    assert phase_window(marks, "baseline", step) == Window(100.0, 130.0)
    assert phase_window(marks, "fault", step) == Window(130.0, 150.0)
    assert phase_window(marks, "recovery", step) == Window(150.0, 200.0)
    assert phase_window(marks[:1], "fault", step) is None
    assert phase_window([PhaseMark("fault", 250.0)], "fault", step) is None  # after the end
    early = [PhaseMark("fault", 80.0), PhaseMark("recovery", 90.0)]  # before the load began
    assert phase_window(early, "fault", step) == Window(80.0, 90.0)
    assert phase_window(early, "recovery", step) == Window(90.0, 200.0)
