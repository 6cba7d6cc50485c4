"""Statuses, ordered so that the worst one wins.

``SKIPPED`` ranks lowest: it never hides evidence, and a set of results that is
only skips means nothing ran (which the verdict turns into ERROR at run level).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Status(StrEnum):
    SKIPPED = "skipped"
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def exit_code(self) -> int:
        """The CLI exit code for a run that ended with this status."""
        return {Status.PASS: 0, Status.FAIL: 1}.get(self, 2)


_RANK = {Status.SKIPPED: 0, Status.PASS: 1, Status.FAIL: 2, Status.ERROR: 3}


def worst(statuses: Iterable[Status]) -> Status:
    """The worst of ``statuses``; SKIPPED when there are none (nothing was judged)."""
    result = Status.SKIPPED
    for status in statuses:
        if status.rank > result.rank:
            result = status
    return result
