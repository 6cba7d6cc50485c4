"""Fault switches: off by default, set at start (``--fault``) or through /admin/faults.

Each one breaks the registry in a way the harness must catch (see README.md)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, get_args

from testbed.registry.schemas import FaultName

RENAME_FIELD = "registry-rename-field"
RETYPE_FIELD = "registry-retype-field"
WRONG_STATUS = "registry-wrong-status"
BAD_ENUM = "registry-bad-enum"
DB_DOWN = "db-down"
AUTH_BYPASS = "registry-auth-bypass"
BAD_ID_500 = "registry-bad-id-500"
KNOWN_FAULTS: tuple[str, ...] = get_args(FaultName)
assert set(KNOWN_FAULTS) == {
    RENAME_FIELD, RETYPE_FIELD, WRONG_STATUS, BAD_ENUM, DB_DOWN, AUTH_BYPASS, BAD_ID_500
}  # fmt: skip


class UnknownFault(ValueError):
    def __init__(self, name: str, index: int) -> None:
        super().__init__(f"unknown fault {name!r}; known faults: {', '.join(KNOWN_FAULTS)}")
        self.name = name
        self.index = index


def check_fault_names(names: Iterable[str]) -> frozenset[str]:
    """The names as a set, or UnknownFault naming the first one that is not known."""
    for index, name in enumerate(names):
        if name not in KNOWN_FAULTS:
            raise UnknownFault(name, index)
    return frozenset(names)


class FaultSwitches:
    """The set of active faults, replaced as a whole (safe to read from any thread)."""

    def __init__(self, active: frozenset[str] = frozenset()) -> None:
        self._lock = threading.Lock()
        self._active = check_fault_names(active)

    @property
    def active(self) -> frozenset[str]:
        return self._active

    def is_on(self, name: str) -> bool:
        return name in self._active

    def replace(self, names: frozenset[str]) -> None:
        with self._lock:
            self._active = check_fault_names(names)


def apply_body_faults(body: dict[str, Any], active: frozenset[str]) -> dict[str, Any]:
    """A model body as the faulty registry would send it (the input is not changed)."""
    out = dict(body)
    if RETYPE_FIELD in active:
        out["metrics"] = {key: repr(value) for key, value in body["metrics"].items()}
    if BAD_ENUM in active:
        out["status"] = "deprecated"
    if RENAME_FIELD in active:
        out = {("id" if key == "model_id" else key): value for key, value in out.items()}
    return out
