"""A Chaos Toolkit control that streams the experiment's progress as JSON lines.

Loaded by ``chaos run`` (never by the orchestrator): the runner injects it into its copy of
the experiment::

    controls:
      - name: harness-stream
        provider: {type: python, module: harness.chaos.control,
                   arguments: {events_path: /path/events.jsonl}}

It registers an event handler on chaoslib's run event registry, whose hooks fire at the
exact moments that matter (an activity's start after its ``pauses.before``, its end before
its ``pauses.after``); the control hook ``before_activity_control`` adds the start of a
``pauses.before``. Lines go to ``events_path`` (or env ``HARNESS_CHAOS_EVENTS``); see
:mod:`harness.chaos.stream` for the format. Errors here never break the experiment.
"""

from __future__ import annotations

import os
from typing import Any

from harness.chaos.stream import EVENTS_ENV, append_event


class StreamingHandler:
    """Duck-typed ``chaoslib.run.RunEventHandler``: every hook it may call is defined."""

    def __init__(self) -> None:
        self.stage = "setup"

    # experiment
    def started(self, experiment: Any, journal: Any) -> None:
        append_event("experiment-started", title=_get(experiment, "title"))

    def running(self, *args: Any, **kwargs: Any) -> None:
        return None

    def finish(self, journal: Any) -> None:
        append_event(
            "experiment-finished",
            status=_get(journal, "status"),
            deviated=_get(journal, "deviated"),
        )

    def interrupted(self, experiment: Any, journal: Any) -> None:
        append_event("experiment-interrupted")

    def signal_exit(self) -> None:
        append_event("signal-received")

    # hypotheses
    def start_continuous_hypothesis(self, frequency: int) -> None:
        return None

    def continuous_hypothesis_iteration(self, iteration_index: int, state: Any) -> None:
        return None

    def continuous_hypothesis_completed(self, *args: Any, **kwargs: Any) -> None:
        return None

    def start_hypothesis_before(self, experiment: Any) -> None:
        self.stage = "hypothesis-before"
        append_event("hypothesis-started", when="before")

    def hypothesis_before_completed(self, experiment: Any, state: Any, journal: Any) -> None:
        append_event("hypothesis-finished", when="before", met=_get(state, "steady_state_met"))

    def start_hypothesis_after(self, experiment: Any) -> None:
        self.stage = "hypothesis-after"
        append_event("hypothesis-started", when="after")

    def hypothesis_after_completed(self, experiment: Any, state: Any, journal: Any) -> None:
        append_event("hypothesis-finished", when="after", met=_get(state, "steady_state_met"))

    # method and rollbacks
    def start_method(self, experiment: Any) -> None:
        self.stage = "method"
        append_event("method-started")

    def method_completed(self, experiment: Any, state: Any = None) -> None:
        append_event("method-finished")

    def start_rollbacks(self, experiment: Any) -> None:
        self.stage = "rollbacks"
        append_event("rollbacks-started")

    def rollbacks_completed(self, experiment: Any, journal: Any) -> None:
        append_event("rollbacks-finished")

    def start_cooldown(self, duration: int) -> None:
        return None

    def cooldown_completed(self) -> None:
        return None

    # activities
    def start_activity(self, activity: Any) -> None:
        append_event(
            "activity-started",
            name=_get(activity, "name"),
            type=_get(activity, "type"),
            stage=self.stage,
        )

    def activity_completed(self, activity: Any, run: Any) -> None:
        append_event(
            "activity-finished",
            name=_get(activity, "name"),
            type=_get(activity, "type"),
            stage=self.stage,
            status=_get(run, "status"),
        )
        after = _pause(activity, "after")
        if after:
            append_event("pause-started", name=_get(activity, "name"), seconds=after)


def _get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


def _pause(activity: Any, when: str) -> float | None:
    pauses = _get(activity, "pauses")
    value = pauses.get(when) if isinstance(pauses, dict) else None
    return float(value) if isinstance(value, int | float) and value > 0 else None


def configure_control(
    events_path: str | None = None, event_registry: Any = None, **kwargs: Any
) -> None:
    if events_path:
        os.environ[EVENTS_ENV] = events_path
    if event_registry is not None and hasattr(event_registry, "register"):
        event_registry.register(StreamingHandler())


def before_activity_control(context: Any, **kwargs: Any) -> None:
    before = _pause(context, "before")
    if before:
        append_event("pause-started", name=_get(context, "name"), seconds=before)
