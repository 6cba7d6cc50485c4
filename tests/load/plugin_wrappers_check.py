"""Run by tests/load/test_plugin_hot_path.py in a child python (Locust patches the
process it is imported in). Prints a JSON object of what the wrappers did."""

from __future__ import annotations

import inspect
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.pop("HARNESS_INTERVAL_PATH", None)
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import gevent
import locust  # noqa: F401  (patches the process as in a worker)
from locust.contrib.fasthttp import FastHttpSession

from harness.load import arrival, plugin

SENTINEL_CONTEXT: dict[str, Any] = {}


class CatchResponse:
    _catch_response = True


def make_original(seen: dict[str, Any]) -> Any:
    """A stand-in for FastHttpSession.request with its exact parameters and defaults,
    recording what it is called with and what is in flight while it runs."""
    def request(
        self: Any, method: str, url: str, name: Any = None, data: Any = None,
        catch_response: bool = False, stream: bool = False, headers: Any = None,
        auth: Any = None, json: Any = None, allow_redirects: bool = True,
        context: Any = SENTINEL_CONTEXT, **kwargs: Any,
    ) -> Any:
        bound = {k: v for k, v in locals().items() if k not in ("self", "seen")}
        seen["bound"] = bound
        seen["self_is"] = self
        seen["context_is_default"] = context is SENTINEL_CONTEXT
        seen["open_during"] = sum(plugin._OPEN.values())
        if kwargs.get("kill"):
            raise gevent.GreenletExit
        if kwargs.get("fail"):
            raise ConnectionResetError("reset")
        return CatchResponse() if catch_response else object()

    return request


def exercise(wrap: Any) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    wrapped = wrap(make_original(seen))
    session = object()
    plugin._OPEN.clear()
    plugin._recorder.seconds.clear()
    wrapped(session, "POST", "/predict", name="/p", headers={"X": "1"}, json={"a": 1}, timeout=3)
    result = {"bound": seen["bound"], "open_during": seen["open_during"],
              "open_after": sum(plugin._OPEN.values()),
              "defaults_are_locusts": seen["context_is_default"]}
    response = wrapped(session, "GET", "/c", catch_response=True)
    result["catch_open_after_call"] = sum(plugin._OPEN.values())
    second = response.__dict__.pop(plugin._SECOND_KEY)
    plugin._OPEN[second] -= 1  # what the context manager's __exit__ wrapper does
    result["catch_open_after_exit"] = sum(plugin._OPEN.values())
    try:
        wrapped(session, "GET", "/k", name="/k", kill=True)
    except gevent.GreenletExit:
        pass
    result["killed_open_after"] = sum(plugin._OPEN.values())
    result["killed_unfinished"] = _unfinished("/k")
    try:
        wrapped(session, "GET", "/k2?x", "/k2", None, False, kill=True)  # name positional
    except gevent.GreenletExit:
        result["killed_positional_unfinished"] = _unfinished("/k2")
    try:
        wrapped(session, "GET", "/f", name="/f", fail=True)
    except ConnectionResetError as exc:
        result["raised"] = str(exc)
    result["raised_open_after"] = sum(plugin._OPEN.values())
    result["raised_unfinished"] = _unfinished("/f")
    response = wrapped(session, "GET", "/c", None, None, True)  # catch_response positional
    result["catch_positional_open"] = sum(plugin._OPEN.values())
    plugin._OPEN[response.__dict__.pop(plugin._SECOND_KEY)] -= 1
    bound_session = type("Session", (), {"request": wrapped})()
    bound_session.request("GET", "/b", name="/b")  # looked up on an instance: a method
    result["bound_self_is_session"] = seen["self_is"] is bound_session
    result["bound_open_after"] = sum(plugin._OPEN.values())
    arrival.IN_USE[0] = True  # an open-model arrival's request, killed at the end
    arrival._ARRIVAL.due = (time.perf_counter(), time.time())
    try:
        wrapped(session, "GET", "/a?id=1", name="/a", kill=True)
    except gevent.GreenletExit:
        pass
    finally:
        arrival.IN_USE[0] = False
        del arrival._ARRIVAL.due
    result["arrival_unfinished_by_name"] = _unfinished("/a")
    return result


def _kind(wrapper: Any) -> str:
    return str(getattr(wrapper, "__qualname__", type(wrapper).__name__)).split(".")[0]


def _unfinished(name: str) -> int:
    return sum(
        e.unfinished for bucket in plugin._recorder.seconds.values() for e in bucket.values()
        if e.name == name
    )


def main() -> None:
    plugin._recorder.start()

    class Other:
        def request(self, method: str, url: str, **kwargs: Any) -> None:
            return None

    out = {
        "fast_session_wrapper": _kind(plugin._wrapper_for(FastHttpSession)),
        "other_signature_wrapper": _kind(plugin._wrapper_for(Other)),
        "fast_signature": str(inspect.signature(FastHttpSession.request)),
        "fast": exercise(plugin._fast_counting_unfinished),
        "generic": exercise(plugin._counting_unfinished),
        "c_built": plugin._inflight_c is not None,
    }
    if plugin._inflight_c is not None:
        out["c"] = exercise(plugin._fast_wrapper)
        os.environ[plugin.PURE_ENV] = "1"
        out["pure_session_wrapper"] = _kind(plugin._wrapper_for(FastHttpSession))
    print(json.dumps(out, default=repr))


if __name__ == "__main__":
    main()
