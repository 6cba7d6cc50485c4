"""Judging a load step's criteria: live (decisive breaches, for abort) and at the end.

Whole-run criteria are judged on the merged whole-run histograms. A ``for Ns``
criterion fails when the metric breached its threshold in each of N consecutive
one-second intervals (an interval with nothing to measure ends a streak); its
observed value is the level held through that streak (the least bad value).

A breach is *decisive* when no future interval can undo it:
- a ``for`` streak that reached its length;
- ``max < T`` once a value above T was seen; ``failures``/``unsent``/``crossover_count``
  ``< N`` once reached;
- ``error_rate < X``: even if every request still possible succeeded, the final
  rate would breach: failures / max_total. ``pXX < T``: the values above T already
  exceed (100 - XX) % of max_total. ``rps``/``requests`` ``>= X``: even max_total
  would fall short. ``max_total`` = requests so far + peak rate * remaining time,
  where the peak rate is the highest one-second rate seen so far (or the planned
  open-model rate, if higher), and time is counted from the first second with
  requests. No such decision is taken before ``settle_s`` (the users' ramp-up plus
  two seconds) from that second, while the rate is still climbing. This is an
  estimate for closed models: a later burst faster than any second seen so far
  could in principle dilute the failures.

Phase criteria, ``recovery_time`` and ``cpu_utilisation`` are not judged live.

Every view is by request start: an interval holds the requests that started in its
second, and the late answers for a second (lines marked ``late``) are merged into it
(:attr:`Judge.intervals`), so phases, sustained windows and recovery time see each
request in the second it was sent. Live judgement (abort, the display) reads seconds
that may still be provisional; the final judgement of sustained windows, phases and
recovery time reads closed seconds (:attr:`Judge.closed_intervals`, see
``harness.load.closing``: a second closes once none of its requests is in flight).
A failing ``error_rate``/``failures`` criterion carries the top failure reasons of the
requests it judged.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from harness.criteria import Criterion
from harness.load import answers, histogram
from harness.load.answers import ANSWER_METRICS
from harness.load.attribution import phase_intervals
from harness.load.attribution import phase_of as phase_of  # the display view, re-exported
from harness.load.closing import Closing, Closure
from harness.load.interval import Interval, merge_intervals
from harness.load.tally import SelectionError, Tally, reasons_text
from harness.outcome import CriterionResult, PhaseMark
from harness.status import Status

RECOVERY_SUSTAIN_S = 3
"""recovery_time: p95 and error rate must be back within limits this many seconds in a row."""

LIVE_METRICS = (
    "error_rate", "max", "failures", "unsent", "crossover_count", "rps", "requests"
)


@dataclass(frozen=True)
class Breach:
    criterion: Criterion
    observed: float
    at_s: float
    reason: str


@dataclass(frozen=True)
class CpuSample:
    at: float  # time.time()
    fraction: float  # of all the target's cores


def breaches(criterion: Criterion, value: float | None) -> bool | None:
    """True/False; None when there is nothing to measure."""
    return None if value is None else not criterion.holds(value)


def streak_end(flags: Sequence[bool | None], length: int) -> int | None:
    """Index at which ``length`` consecutive True flags are first completed."""
    run = 0
    for index, flag in enumerate(flags):
        run = run + 1 if flag else 0
        if run >= length:
            return index
    return None


def sustained_level(criterion: Criterion, values: Sequence[float]) -> float:
    """The level held throughout a breach streak (the least bad value in it)."""
    return min(values) if criterion.op in ("<", "<=") else max(values)


def _live_kind(criterion: Criterion) -> str | None:
    if criterion.phase is not None or criterion.metric in ("cpu_utilisation", "recovery_time"):
        return None
    if criterion.sustain_s:
        return "sustain"
    upper = criterion.op in ("<", "<=")
    if criterion.percentile is not None and upper:
        return "percentile"
    if criterion.metric in ("error_rate", "max", "failures", "unsent", "crossover_count") and upper:
        return "upper"
    if criterion.metric in ("rps", "requests") and criterion.op in (">", ">="):
        return "volume"
    return None


@dataclass
class _Track:
    """One sustained criterion's value per second (by request start)."""

    criterion: Criterion
    by_second: dict[int, float | None] = field(default_factory=dict)

    def around(self, second: int, length: int) -> list[float | None]:
        """The values of the seconds a streak of ``length`` through ``second`` can
        span (a second not seen: None). Late answers change a second already seen,
        so a streak can complete in the middle of the run so far, not only at its end."""
        return [self.by_second.get(s) for s in range(second - length + 1, second + length)]


def one_second_value(
    criterion: Criterion, interval: Interval, expected_version: str | None = None
) -> float | None:
    try:
        return Tally([interval], expected_version).value(criterion.metric, criterion.labels, 1.0)
    except SelectionError:
        return None


class Judge:
    """Fed one interval at a time; reports decisive breaches as soon as they are."""

    def __init__(
        self,
        criteria: Sequence[Criterion],
        duration_s: float,
        planned_rps: float | None = None,
        settle_s: float = 0.0,
        expected_version: str | None = None,
        close_bound_s: float = math.inf,
    ) -> None:
        self.criteria = list(criteria)
        self.closing = Closing(close_bound_s)
        self.duration_s = duration_s
        self.settle_s = settle_s
        self.planned_rps = planned_rps or 0.0
        self.total = Tally(expected_version=expected_version)
        self.by_second: dict[int, Interval] = {}  # merged lines, by request start
        self.first_seen: int | None = None
        self.peak_rps = 0.0
        self.decided: dict[int, Breach] = {}
        self._tracks = {
            i: _Track(c)
            for i, c in enumerate(self.criteria)
            if c.sustain_s and c.metric not in ("cpu_utilisation", "recovery_time")
        }

    @property
    def first_second(self) -> int | None:
        return self.first_seen

    @property
    def expected_version(self) -> str | None:
        """The model version version_skew counts against: pinned, or the run's first seen."""
        return self.total.expected_version

    def elapsed_s(self, second: int) -> float:
        first = self.first_second
        return float(second - first + 1) if first is not None else 0.0

    @property
    def intervals(self) -> list[Interval]:
        """Every second seen, late answers merged in, in order of the second
        (provisional ones included: the live view)."""
        return [self.by_second[s] for s in sorted(self.by_second)]

    @property
    def closed_intervals(self) -> list[Interval]:
        """The closed seconds (none of their requests in flight any more), in order:
        every second once :meth:`close_all` was called at the end of the run."""
        return [self.by_second[s] for s in sorted(self.by_second) if self.closing.is_closed(s)]

    def close_all(self, now: float | None = None) -> list[Closure]:
        return self.closing.close_all(time.time() if now is None else now)

    def observe(self, interval: Interval, now: float | None = None) -> list[Breach]:
        """Note one line (``now``: when it was read, for closing); return the decisive
        breaches it makes, judged on the provisional view."""
        self.closing.observe(interval, time.time() if now is None else now)
        if self.first_seen is None or interval.second < self.first_seen:
            self.first_seen = interval.second
        have = self.by_second.get(interval.second)
        merged = interval if have is None else merge_intervals(have, interval)
        self.by_second[interval.second] = merged
        self.total.add(interval)
        self.peak_rps = max(self.peak_rps, float(merged.requests))
        for track in self._tracks.values():
            track.by_second[interval.second] = one_second_value(
                track.criterion, merged, self.expected_version
            )
        new = []
        elapsed = self.elapsed_s(interval.second)
        for index, criterion in enumerate(self.criteria):
            if index in self.decided:
                continue
            breach = self._decisive(index, criterion, elapsed, interval.second)
            if breach is not None:
                self.decided[index] = breach
                new.append(breach)
        return new

    def _decisive(
        self, index: int, criterion: Criterion, elapsed: float, second: int
    ) -> Breach | None:
        kind = _live_kind(criterion)
        if kind is None:
            return None
        if kind == "sustain":
            track = self._tracks[index]
            length = max(1, math.ceil(criterion.sustain_s or 1))
            window = track.around(second, length)
            end = streak_end([breaches(criterion, v) for v in window], length)
            if end is None:
                return None
            streak = [v for v in window[end - length + 1 : end + 1] if v is not None]
            level = sustained_level(criterion, streak)
            return Breach(
                criterion, level, elapsed,
                f"breached for {length} s in a row (level {_fmt(level, criterion)})",
            )
        try:
            current = self.total.value(
                criterion.metric, criterion.labels, self.total.active_span_s
            )
            chosen = self.total.select(criterion.labels)
        except SelectionError:
            return None
        if current is None or self.total.first_active is None or self.total.last_active is None:
            return None
        active_s = float(self.total.last_active - self.total.first_active + 1)
        if active_s < self.settle_s:
            return None
        remaining_s = max(self.duration_s - active_s, 0.0)
        max_total = chosen.count + max(self.peak_rps, self.planned_rps) * remaining_s
        if kind == "upper" and criterion.metric == "error_rate":
            best = chosen.failures / max_total if max_total else 0.0
            if criterion.holds(best):
                return None
            return Breach(
                criterion, current, elapsed,
                f"{chosen.failures} failures already exceed {_fmt(criterion.threshold, criterion)} "
                f"of at most {max_total:.0f} requests",
            )
        if kind == "upper":
            return None if criterion.holds(current) else Breach(
                criterion, current, elapsed, f"reached {_fmt(current, criterion)}"
            )
        if kind == "percentile":
            q = criterion.percentile or 0.0
            above = histogram.count_above_ms(chosen.hist, criterion.threshold)
            if above <= (1.0 - q / 100.0) * max_total:
                return None
            return Breach(
                criterion, current, elapsed,
                f"{above} requests above {criterion.threshold:g} ms already exceed "
                f"{100 - q:g} % of at most {max_total:.0f} requests",
            )
        # volume: even the most requests still possible would fall short
        best_count = max_total
        best = best_count / self.duration_s if criterion.metric == "rps" else best_count
        if criterion.holds(best):
            return None
        return Breach(
            criterion, current, elapsed,
            f"at most {best:.1f} reachable by the end of the run",
        )

    # -- final judgement -------------------------------------------------------------

    def conclude(
        self, span_s: float, cpu: Sequence[CpuSample] = (), aborted_by: Breach | None = None
    ) -> list[CriterionResult]:
        """Results for every criterion without a phase and other than recovery_time."""
        results = []
        for index, criterion in enumerate(self.criteria):
            if criterion.phase is not None or criterion.metric == "recovery_time":
                continue
            results.append(self._conclude_one(index, criterion, span_s, cpu, aborted_by))
        return results

    def _conclude_one(
        self,
        index: int,
        criterion: Criterion,
        span_s: float,
        cpu: Sequence[CpuSample],
        aborted_by: Breach | None,
    ) -> CriterionResult:
        if aborted_by is not None and aborted_by.criterion is criterion:
            top = _top_reasons(criterion, self.total)
            reason = f"aborted the run at {aborted_by.at_s:.1f} s: {aborted_by.reason}"
            return _result(
                criterion, Status.FAIL, aborted_by.observed, _with_reasons(reason, top),
                at_s=aborted_by.at_s, reasons=top,
            )
        if criterion.metric == "cpu_utilisation":
            return judge_cpu(criterion, [s.fraction for s in cpu])
        if criterion.sustain_s:
            chosen = self.closed_intervals
            expected = self.expected_version
            values = [one_second_value(criterion, i, expected) for i in chosen]
            return judge_sustained(
                criterion, values, self.first_second, [i.second for i in chosen],
                Tally(chosen, expected),
            )
        return judge_whole(criterion, self.total, span_s, self.decided.get(index))


def judge_whole(
    criterion: Criterion, tally: Tally, span_s: float, breach: Breach | None = None
) -> CriterionResult:
    try:
        observed = tally.value(criterion.metric, criterion.labels, span_s)
    except SelectionError as exc:
        return _result(criterion, Status.ERROR, None, str(exc))
    if observed is None:
        return _result(criterion, Status.ERROR, None, _nothing_measured(criterion.metric))
    top = _top_reasons(criterion, tally)
    if criterion.holds(observed):
        return _result(criterion, Status.PASS, observed, reasons=top)
    at_s = breach.at_s if breach is not None else None
    reason = f"decided at {breach.at_s:.1f} s: {breach.reason}" if breach is not None else ""
    return _result(criterion, Status.FAIL, observed, _with_reasons(reason, top), at_s, top)


def _top_reasons(criterion: Criterion, tally: Tally | None) -> tuple[tuple[str, int], ...]:
    """The top failure reasons behind an error_rate/failures criterion."""
    if tally is None or criterion.metric not in ("error_rate", "failures"):
        return ()
    try:
        return tally.select(criterion.labels).top_reasons()
    except SelectionError:
        return ()


def _with_reasons(reason: str, top: Sequence[tuple[str, int]]) -> str:
    if not top:
        return reason
    text = f"top reasons: {reasons_text(top)}"
    return f"{reason}; {text}" if reason else text


def judge_sustained(
    criterion: Criterion,
    values: Sequence[float | None],
    first_second: int | None,
    seconds: Sequence[int],
    tally: Tally | None = None,
) -> CriterionResult:
    length = max(1, math.ceil(criterion.sustain_s or 1))
    measured = [v for v in values if v is not None]
    if not measured:
        return _result(criterion, Status.ERROR, None, _nothing_measured(criterion.metric))
    flags = [breaches(criterion, v) for v in values]
    end = streak_end(flags, length)
    if end is None:
        longest = _longest_run(flags)
        level = sustained_level(criterion, measured) if criterion.op in ("<", "<=") else min(
            measured
        )
        worst = max(measured) if criterion.op in ("<", "<=") else level
        return _result(
            criterion, Status.PASS, worst,
            f"longest breach {longest} s < {length} s (observed: worst one-second value)",
        )
    streak = [v for v in values[end - length + 1 : end + 1] if v is not None]
    level = sustained_level(criterion, streak)
    at_s = float(seconds[end] - first_second + 1) if first_second is not None else None
    top = _top_reasons(criterion, tally)
    reason = f"breached for {length} s in a row (level held: {_fmt(level, criterion)})"
    return _result(
        criterion, Status.FAIL, level, _with_reasons(reason, top), at_s=at_s, reasons=top
    )


def judge_cpu(criterion: Criterion, fractions: Sequence[float]) -> CriterionResult:
    if not fractions:
        return _result(
            criterion, Status.ERROR, None,
            "no CPU samples (needs a local testbed manifest or target.prometheus_url + cpu_query)",
        )
    if criterion.sustain_s:
        return judge_sustained(
            criterion, list(fractions), 0, list(range(len(fractions)))
        )
    observed = sum(fractions) / len(fractions)
    status = Status.PASS if criterion.holds(observed) else Status.FAIL
    return _result(criterion, status, observed, "mean over the run")


def judge_phases(
    criteria: Sequence[Criterion],
    intervals: Sequence[Interval],
    marks: Sequence[PhaseMark],
    cpu: Sequence[CpuSample] = (),
    expected_version: str | None = None,
    warmup_s: int = 0,
) -> list[CriterionResult]:
    """Criteria that name a phase, and recovery_time, against the complete timeline
    (``expected_version``: the run's, for version_skew). A phase judges the seconds
    wholly sent in it, after the users' ramp (``harness.load.attribution``)."""
    results = []
    for criterion in criteria:
        if criterion.metric == "recovery_time":
            results.append(judge_recovery(criterion, criteria, intervals, marks))
            continue
        if criterion.phase is None:
            continue
        if not marks:
            results.append(_result(criterion, Status.ERROR, None, "no chaos phase recorded"))
            continue
        chosen = phase_intervals(intervals, marks, criterion.phase, warmup_s)
        if not chosen:
            results.append(
                _result(
                    criterion, Status.ERROR, None, f"nothing measured in phase {criterion.phase}"
                )
            )
            continue
        if criterion.metric == "cpu_utilisation":
            fractions = [
                s.fraction for s in cpu if phase_of(int(s.at), marks) == criterion.phase
            ]
            results.append(judge_cpu(criterion, fractions))
            continue
        if criterion.sustain_s:
            values = [one_second_value(criterion, i, expected_version) for i in chosen]
            results.append(
                judge_sustained(
                    criterion, values, intervals[0].second, [i.second for i in chosen],
                    Tally(chosen, expected_version),
                )
            )
            continue
        results.append(
            judge_whole(criterion, Tally(chosen, expected_version), float(len(chosen)))
        )
    return results


def phase_figures(
    intervals: Sequence[Interval], marks: Sequence[PhaseMark],
    expected_version: str | None = None,
    warmup_s: int = 0,
) -> dict[str, object]:
    """Overall figures (requests, error rate, rps, p50/p95/p99, top failure reasons,
    model versions seen, ...) per phase measured, by request start: the seconds its
    criteria judge."""
    figures: dict[str, object] = {}
    for phase in ("baseline", "fault", "recovery"):
        chosen = phase_intervals(intervals, marks, phase, warmup_s)
        if chosen:
            tally = Tally(chosen, expected_version)
            figures[phase] = tally.summary(float(len(chosen)))["overall"]
    return figures


def judge_recovery(
    criterion: Criterion,
    criteria: Sequence[Criterion],
    intervals: Sequence[Interval],
    marks: Sequence[PhaseMark],
) -> CriterionResult:
    if not marks:
        return _result(criterion, Status.ERROR, None, "no chaos phase recorded")
    ordered = sorted(marks, key=lambda m: m.at)
    fault_at = next((m.at for m in ordered if m.phase == "fault"), None)
    if fault_at is None:
        return _result(criterion, Status.ERROR, None, "no fault phase recorded")
    fault_end = next((m.at for m in ordered if m.phase == "recovery" and m.at >= fault_at), None)
    if fault_end is None:
        return _result(criterion, Status.ERROR, None, "the fault phase never ended")
    limits = baseline_limits(criteria)
    if not limits:
        return _result(
            criterion, Status.ERROR, None,
            "recovery_time needs a p95 or error_rate criterion (phase baseline, or none) "
            "to know what 'recovered' means",
        )
    observed = recovery_time_s(intervals, fault_end, limits)
    if observed is None:
        return _result(
            criterion, Status.FAIL, None,
            f"p95/error rate not back within {_limits_text(limits)} for {RECOVERY_SUSTAIN_S} s "
            "before the end of the run",
        )
    status = Status.PASS if criterion.holds(observed) else Status.FAIL
    return _result(criterion, status, observed, f"back within {_limits_text(limits)}")


def baseline_limits(criteria: Sequence[Criterion]) -> list[Criterion]:
    """The p95 and error_rate criteria that define 'recovered' (baseline ones first)."""
    chosen = []
    for metric in ("p95", "error_rate"):
        candidates = [c for c in criteria if c.metric == metric and not c.labels]
        pick = next((c for c in candidates if c.phase == "baseline"), None) or next(
            (c for c in candidates if c.phase is None), None
        )
        if pick is not None:
            chosen.append(pick)
    return chosen


def recovery_time_s(
    intervals: Sequence[Interval], fault_end: float, limits: Sequence[Criterion]
) -> float | None:
    """Seconds from ``fault_end`` to the start of the first run of RECOVERY_SUSTAIN_S
    intervals in which every limit holds (intervals without requests do not count)."""
    after = [i for i in intervals if i.second + 1 > fault_end]
    good = []
    for interval in after:
        one = Tally([interval])
        ok = one.requests > 0
        for limit in limits:
            value = one.value(limit.metric, limit.labels, 1.0) if ok else None
            ok = ok and value is not None and limit.holds(value)
        good.append(ok)
    end = streak_end(good, RECOVERY_SUSTAIN_S)
    if end is None:
        return None
    start = after[end - RECOVERY_SUSTAIN_S + 1].second
    return max(0.0, start - fault_end)


def _nothing_measured(metric: str) -> str:
    if metric in ANSWER_METRICS:
        return answers.nothing_measured(metric)
    return f"nothing measured for {metric}"


def _limits_text(limits: Sequence[Criterion]) -> str:
    return " and ".join(limit.text for limit in limits)


def _longest_run(flags: Sequence[bool | None]) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def _fmt(value: float, criterion: Criterion) -> str:
    if criterion.unit_kind == "rate":
        return f"{value * 100:.3g} %"
    unit = criterion.unit
    return f"{value:.4g} {unit}".strip()


def _result(
    criterion: Criterion,
    status: Status,
    observed: float | None,
    reason: str = "",
    at_s: float | None = None,
    reasons: tuple[tuple[str, int], ...] = (),
) -> CriterionResult:
    return CriterionResult(
        name=criterion.name,
        status=status,
        observed=_round(observed),
        threshold=criterion.threshold,
        unit=criterion.unit,
        phase=criterion.phase,
        reason=reason,
        at_s=at_s,
        reasons=reasons,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def count_requests(intervals: Sequence[Interval]) -> Mapping[str, int]:
    return {
        "requests": sum(i.requests for i in intervals),
        "failures": sum(i.failures for i in intervals),
    }
