"""What clients saw during a chaos step: the answers recorded by the driver's background
watcher (``answers.jsonl``, :mod:`harness.chaos.driver.answers`) and the step's fault events,
turned into figures and judged by the chaos step's criteria.

Figures (verdict.json ``metrics.answers``; criteria by these names):

- ``rollout_time`` (s): the mixed-version window: from the first answer on the promoted
  version to the last answer on the previous one (0 when they do not overlap).
- ``skew_outside_rollout`` (fraction): answers outside the rollout (before the promotion,
  after the deployer said it had finished) not on that side's version.
- ``version_flips``: a pod whose answers changed version, plus answers on the previous
  version from pods that booted after the promotion.
- ``old_version_replicas``: replicas alive at the end of the watch not on the promoted version.
- ``not_ready_answers``: 503 ``not_ready`` answers from a pod that already said it was ready.
- ``cold_start_s`` (s): the slowest pod start: for a pod that replaced a killed one, from the
  kill to its first correct answer; for a pod the rollout added, from its boot. Per pod also
  ``time_to_ready_s`` (to the ready flag in its pod record).
- ``answers``, ``answer_errors`` (non-200), ``wrong_answers`` (200, not the version's answer).

Times are the requests' send times (an answer's own latency, milliseconds, is not added).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.criteria import Criterion
from harness.outcome import CriterionResult
from harness.status import Status

ANSWER_METRICS: tuple[str, ...] = (
    "rollout_time",
    "skew_outside_rollout",
    "version_flips",
    "old_version_replicas",
    "not_ready_answers",
    "cold_start_s",
    "time_to_ready_s",
    "answer_errors",
    "wrong_answers",
)
"""The metrics a chaos step's criteria may name (judged from the watched answers)."""


@dataclass(frozen=True)
class Answer:
    at: float
    status: int
    pod: str
    version: str
    error: str
    correct: bool


@dataclass(frozen=True)
class PodSeen:
    name: str
    booted_at: float
    ready_at: float
    version: str


@dataclass(frozen=True)
class Watch:
    started_at: float
    ended_at: float
    start_pods: frozenset[str]
    end_pods: frozenset[str]
    answers: tuple[Answer, ...]
    pods: dict[str, PodSeen]


@dataclass(frozen=True)
class Rollout:
    promoted_at: float
    version: str
    previous: str
    finished_at: float | None  # None: the deployer never said it finished


@dataclass(frozen=True)
class PodStart:
    pod: str
    cause: str  # "pod-kill" | "rollout"
    cold_start_s: float | None  # None: no correct answer seen from it
    time_to_ready_s: float | None
    since_s: float  # how long it was watched after its start (a lower bound when unseen)


def _lines(path: Path) -> list[dict[str, Any]]:
    try:
        raw_lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    items = []
    for raw in raw_lines:
        try:
            item = json.loads(raw)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if isinstance(item, dict):
            items.append(item)
    return items


def read_watch(path: Path) -> Watch | None:
    """The watcher's file; None when there is none (no watcher in the experiment)."""
    if not path.exists():
        return None
    started = ended = 0.0
    start_pods: frozenset[str] = frozenset()
    end_pods: frozenset[str] = frozenset()
    answers: list[Answer] = []
    pods: dict[str, PodSeen] = {}
    for item in _lines(path):
        kind = item.get("type")
        if kind == "start":
            started, start_pods = float(item["at"]), frozenset(item.get("pods", []))
        elif kind == "end":
            ended, end_pods = float(item["at"]), frozenset(item.get("pods", []))
        elif kind == "answer":
            answers.append(_answer(item))
        elif kind == "pod":
            pods[str(item["name"])] = PodSeen(
                str(item["name"]), float(item["booted_at"]), float(item["ready_at"]),
                str(item["version"]),
            )  # fmt: skip
    if not ended and answers:
        ended = answers[-1].at
    return Watch(started, ended, start_pods, end_pods, tuple(answers), pods)


def _answer(item: dict[str, Any]) -> Answer:
    return Answer(
        at=float(item["at"]),
        status=int(item["status"]),
        pod=str(item.get("pod", "")),
        version=str(item.get("version", "")),
        error=str(item.get("error", "")),
        correct=bool(item.get("correct")),
    )


def read_fault_events(path: Path) -> tuple[list[float], Rollout | None]:
    """Pod-kill times and the rollout (if any) from the step's event stream."""
    kills: list[float] = []
    rollout: Rollout | None = None
    for event in _lines(path):
        if event.get("event") == "fault-injected" and event.get("fault") == "pod-kill":
            kills.append(float(event.get("started_at", event["at"])))  # the signal, not after
        elif event.get("event") == "rollout-finished":
            rollout = Rollout(
                promoted_at=float(event["promoted_at"]),
                version=str(event["target"]),
                previous=str(event["previous"]),
                finished_at=float(event["finished_at"]) if event.get("done") else None,
            )
    return kills, rollout


@dataclass(frozen=True)
class AnswerFigures:
    answers: int
    answer_errors: int
    wrong_answers: int
    not_ready_answers: int
    version_flips: int
    rollout_time: float | None
    skew_outside_rollout: float | None
    old_version_replicas: int | None
    cold_start_s: float | None
    time_to_ready_s: float | None
    pod_starts: tuple[PodStart, ...]
    rollout_version: str = ""
    versions_seen: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "pod_starts"}
        data["versions_seen"] = list(self.versions_seen)
        data["pod_starts"] = [s.__dict__ for s in self.pod_starts]
        return data


def pod_starts(watch: Watch, kills: list[float], rollout: Rollout | None) -> list[PodStart]:
    """Every pod that started during the watch, with what started it and how fast."""
    starts: list[PodStart] = []
    for pod in sorted(watch.pods.values(), key=lambda p: p.booted_at):
        if pod.name in watch.start_pods:
            continue
        earlier = [k for k in kills if k <= pod.booted_at + 0.05]
        if earlier:
            cause, origin = "pod-kill", max(earlier)
        elif rollout is not None and pod.booted_at >= rollout.promoted_at:
            cause, origin = "rollout", pod.booted_at
        else:
            continue  # started for a reason this step did not cause
        first = next((a.at for a in watch.answers if a.pod == pod.name and a.correct), None)
        ready = pod.ready_at - origin if pod.ready_at else None
        cold = first - origin if first is not None else None
        starts.append(PodStart(pod.name, cause, cold, ready, watch.ended_at - origin))
    return starts


def _flips(watch: Watch, rollout: Rollout | None) -> int:
    flips = 0
    last: dict[str, str] = {}
    for answer in watch.answers:
        if answer.status != 200 or not answer.version:
            continue
        if last.get(answer.pod, answer.version) != answer.version:
            flips += 1
        last[answer.pod] = answer.version
        booted = watch.pods.get(answer.pod)
        if (
            rollout is not None
            and booted is not None
            and booted.booted_at >= rollout.promoted_at
            and answer.version == rollout.previous
        ):
            flips += 1
    return flips


def _window(watch: Watch, rollout: Rollout) -> float | None:
    after = [a for a in watch.answers if a.at >= rollout.promoted_at and a.status == 200]
    first_new = next((a.at for a in after if a.version == rollout.version), None)
    if first_new is None:
        return None
    last_old = max((a.at for a in after if a.version == rollout.previous), default=first_new)
    return max(last_old - first_new, 0.0)


def _skew(watch: Watch, rollout: Rollout) -> float | None:
    outside = [
        (a, rollout.previous if a.at < rollout.promoted_at else rollout.version)
        for a in watch.answers
        if a.status == 200
        and (
            a.at < rollout.promoted_at
            or (rollout.finished_at is not None and a.at > rollout.finished_at)
        )
    ]
    if not outside:
        return None
    return sum(1 for a, expected in outside if a.version != expected) / len(outside)


def answer_figures(watch: Watch, kills: list[float], rollout: Rollout | None) -> AnswerFigures:
    starts = pod_starts(watch, kills, rollout)
    ready_at = {p.name: p.ready_at for p in watch.pods.values()}
    colds = [s.cold_start_s if s.cold_start_s is not None else s.since_s for s in starts]
    readies = [s.time_to_ready_s for s in starts if s.time_to_ready_s is not None]
    old_replicas = None
    if rollout is not None:
        old_replicas = sum(
            1 for name in watch.end_pods
            if name not in watch.pods or watch.pods[name].version != rollout.version
        )  # fmt: skip
    answers = watch.answers
    return AnswerFigures(
        answers=len(answers),
        answer_errors=sum(1 for a in answers if a.status != 200),
        wrong_answers=sum(1 for a in answers if a.status == 200 and not a.correct),
        not_ready_answers=sum(
            1 for a in answers if a.error == "not_ready" and 0 < ready_at.get(a.pod, 0.0) <= a.at
        ),
        version_flips=_flips(watch, rollout),
        rollout_time=_window(watch, rollout) if rollout is not None else None,
        skew_outside_rollout=_skew(watch, rollout) if rollout is not None else None,
        old_version_replicas=old_replicas,
        cold_start_s=max(colds) if colds else None,
        time_to_ready_s=max(readies) if readies else None,
        pod_starts=tuple(starts),
        rollout_version=rollout.version if rollout is not None else "",
        versions_seen=tuple(sorted({a.version for a in answers if a.version})),
    )


def _unobserved(figures: AnswerFigures | None, metric: str) -> str:
    if figures is None:
        return "no answers were watched (the experiment has no watch_answers activity)"
    if metric in ("rollout_time", "skew_outside_rollout", "old_version_replicas"):
        if figures.rollout_version == "":
            return "no rollout happened in this step"
        if metric == "rollout_time":
            return f"no answer on {figures.rollout_version} seen: the rollout reached no client"
        return "no answer outside the rollout window was watched"
    return "no pod started during the watch: nothing to time"


def judge_answers(
    criteria: tuple[Criterion, ...], figures: AnswerFigures | None
) -> list[CriterionResult]:
    """One row per criterion; a figure that was never observed is ERROR (no vacuous pass),
    except a cold start never seen within the watch when that already breaks the bound."""
    rows: list[CriterionResult] = []
    for criterion in criteria:
        value = getattr(figures, criterion.metric, None) if figures is not None else None
        if value is None:
            rows.append(
                CriterionResult(
                    criterion.name, Status.ERROR, None, criterion.threshold, criterion.unit,
                    reason=f"not observed: {_unobserved(figures, criterion.metric)}",
                )
            )  # fmt: skip
            continue
        observed = float(value)
        ok = criterion.holds(observed)
        reason = "" if ok else _breach_reason(criterion.metric, figures)
        rows.append(
            CriterionResult(
                criterion.name, Status.PASS if ok else Status.FAIL, round(observed, 3),
                criterion.threshold, criterion.unit, reason=reason,
            )
        )  # fmt: skip
    return rows


def _breach_reason(metric: str, figures: AnswerFigures | None) -> str:
    if figures is None:
        return ""
    if metric in ("cold_start_s", "time_to_ready_s"):
        slow = [
            f"{s.pod} ({s.cause}): first correct answer "
            + (f"after {s.cold_start_s:.2f}s" if s.cold_start_s is not None
               else f"not seen in {s.since_s:.1f}s")
            for s in figures.pod_starts
        ]  # fmt: skip
        return "; ".join(slow)
    if metric == "old_version_replicas":
        return f"replicas not on {figures.rollout_version} at the end of the watch"
    return f"versions seen: {', '.join(figures.versions_seen)}"
