"""Figures from watched answers (harness.chaos.answers): table tests on canned watches."""

from __future__ import annotations

from harness.chaos.answers import (
    Answer,
    PodSeen,
    Rollout,
    Watch,
    answer_figures,
    judge_answers,
)
from harness.criteria import parse_criterion
from harness.status import Status

V1, V2 = "1.0.0", "2.0.0"


def ok(at: float, pod: str, version: str) -> Answer:
    return Answer(at, 200, pod, version, "", True)


def watch(answers: list[Answer], pods: list[PodSeen], end_pods: set[str]) -> Watch:
    return Watch(0.0, 30.0, frozenset({"a", "b"}), frozenset(end_pods), tuple(answers),
                 {p.name: p for p in pods})  # fmt: skip


OLD_PODS = [PodSeen("a", -10, -9, V1), PodSeen("b", -10, -9, V1)]
ROLLOUT = Rollout(promoted_at=10.0, version=V2, previous=V1, finished_at=14.0)


def test_a_clean_rollout() -> None:
    pods = [*OLD_PODS, PodSeen("c", 10.5, 10.7, V2), PodSeen("d", 12.0, 12.1, V2)]
    answers = [ok(5, "a", V1), ok(6, "b", V1), ok(11, "c", V2), ok(11.5, "b", V1),
               ok(12.5, "d", V2), ok(20, "c", V2), ok(21, "d", V2)]  # fmt: skip
    figures = answer_figures(watch(answers, pods, {"c", "d"}), [], ROLLOUT)
    assert figures.rollout_time == 0.5  # first 2.0.0 at 11, last 1.0.0 at 11.5
    assert (figures.old_version_replicas, figures.version_flips) == (0, 0)
    assert figures.skew_outside_rollout == 0.0
    assert [s.pod for s in figures.pod_starts] == ["c", "d"]
    assert figures.cold_start_s == 0.5 and figures.time_to_ready_s is not None


def test_a_replica_left_behind_and_a_new_pod_on_the_old_version() -> None:
    pods = [*OLD_PODS, PodSeen("c", 10.5, 10.7, V2), PodSeen("e", 13.0, 13.2, V1)]
    answers = [ok(5, "a", V1), ok(11, "c", V2), ok(13.5, "e", V1), ok(20, "b", V1),
               ok(21, "c", V2)]  # fmt: skip
    figures = answer_figures(watch(answers, pods, {"b", "c"}), [], ROLLOUT)
    assert figures.old_version_replicas == 1
    assert figures.version_flips == 1  # e booted after the promotion and answered 1.0.0
    assert figures.skew_outside_rollout == 1 / 3  # 5 s (on 1.0.0, right), 20 s (wrong), 21 s
    assert figures.rollout_time == 9.0


def test_answers_from_a_pod_that_says_ready_without_a_model() -> None:
    pods = [*OLD_PODS, PodSeen("c", 10.5, 10.5, "")]
    answers = [ok(11, "a", V1), Answer(11.2, 503, "c", "", "not_ready", False),
               Answer(10.4, 503, "c", "", "not_ready", False)]  # fmt: skip
    figures = answer_figures(watch(answers, pods, {"a", "c"}), [], ROLLOUT)
    assert figures.not_ready_answers == 1  # the one before it said ready does not count
    assert figures.answer_errors == 2


def test_cold_start_after_a_kill_and_one_never_seen() -> None:
    pods = [*OLD_PODS, PodSeen("c", 8.1, 8.4, V1)]
    answers = [ok(8.0, "a", V1), ok(8.9, "c", V1)]
    figures = answer_figures(watch(answers, pods, {"a", "c"}), [8.0], None)
    (start,) = figures.pod_starts
    assert (start.cause, round(start.cold_start_s or 0, 3)) == ("pod-kill", 0.9)
    unseen = answer_figures(watch([ok(8.0, "a", V1)], pods, {"a", "c"}), [8.0], None)
    assert unseen.cold_start_s == 22.0  # watched until 30 s: at least that long
    row = judge_answers((parse_criterion("cold_start_s < 5s"),), unseen)[0]
    assert row.status is Status.FAIL and "not seen in 22.0s" in row.reason


def test_unobserved_figures_are_errors_not_passes() -> None:
    criteria = (parse_criterion("rollout_time < 10s"), parse_criterion("cold_start_s < 5s"))
    assert [r.status for r in judge_answers(criteria, None)] == [Status.ERROR, Status.ERROR]
    figures = answer_figures(watch([ok(1, "a", V1)], OLD_PODS, {"a", "b"}), [], None)
    rows = judge_answers(criteria, figures)
    assert [r.status for r in rows] == [Status.ERROR, Status.ERROR]
    assert "no rollout happened" in rows[0].reason and "no pod started" in rows[1].reason
