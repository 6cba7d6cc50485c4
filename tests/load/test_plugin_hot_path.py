"""The plugin's per-request hot path.

- Its session wrappers (in-flight counting): FastHttpSession of the pinned Locust gets
  the fast wrapper with its exact parameters (in C where it is built), every argument
  reaches Locust unchanged, the request is in flight exactly while Locust has it, and
  one killed in flight (an open-model arrival's too) is unfinished under its name.
- Its request listener takes the place of Locust's own stats listener and does its
  work too: Locust's stats come out the same as with Locust's listener, and the plugin
  records every request (its latency, a failure's reason); Locust's stats are kept
  even for an event the plugin's recording raises on; where Locust's listener is not
  the one the plugin knows, the plugin's goes beside it instead.

Locust monkey-patches the process it is imported in (gevent), so the checks run in
child pythons (tests/load/plugin_wrappers_check.py, plugin_listener_check.py), which
print what they saw."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def seen_by(check: str) -> Any:
    done = subprocess.run(
        [sys.executable, str(HERE / check)], capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_wrappers_pass_everything_through_and_count_in_flight() -> None:
    seen = seen_by("plugin_wrappers_check.py")
    # where the machine has a C compiler, the set-up built the C wrapper (setup.py)
    assert seen["c_built"] or not (shutil.which("cc") or shutil.which("gcc"))
    fast = "CountingRequest" if seen["c_built"] else "_fast_counting_unfinished"
    assert seen["fast_session_wrapper"] == fast
    assert seen["other_signature_wrapper"] == "_counting_unfinished"
    kinds = ["fast", "generic"]
    if seen["c_built"]:
        kinds.append("c")
        assert seen["pure_session_wrapper"] == "_fast_counting_unfinished"  # turned off
    for kind in kinds:
        got = seen[kind]
        # what the original got: positional and keyword arguments bound to its parameters
        assert got["bound"] == {
            "method": "POST", "url": "/predict", "name": "/p", "data": None,
            "catch_response": False, "stream": False, "headers": {"X": "1"}, "auth": None,
            "json": {"a": 1}, "allow_redirects": True, "context": {}, "kwargs": {"timeout": 3},
        }, kind
        assert got["defaults_are_locusts"], kind
        assert got["open_during"] == 1 and got["open_after"] == 0, kind
        assert got["catch_open_after_call"] == 1 and got["catch_open_after_exit"] == 0, kind
        assert got["killed_open_after"] == 0 and got["killed_unfinished"] == 1, kind
        assert got["arrival_unfinished_by_name"] == 1, kind  # under its name, not its URL
        assert got["killed_positional_unfinished"] == 1, kind
        assert got["raised"] == "reset" and got["raised_open_after"] == 0, kind
        assert got["raised_unfinished"] == 0, kind  # a failure, not a killed request
        assert got["catch_positional_open"] == 1, kind
        assert got["bound_self_is_session"] and got["bound_open_after"] == 0, kind


def test_listener_in_locusts_place_keeps_locusts_stats() -> None:
    seen = seen_by("plugin_listener_check.py")
    bare, replaced = seen["bare"], seen["replaced"]
    assert bare["handlers"] == 1 and bare["locusts_listener_kept"]
    assert replaced["handlers"] == 1 and not replaced["locusts_listener_kept"]
    assert replaced["stats"] == bare["stats"]
    assert bare["stats"]["total"] == [5, 2]  # Locust's stats even where the plugin raised
    assert [e[2] for e in bare["stats"]["errors"]] == ["bad body", "reset"]
    for recorded in (seen["recorded"], seen["recorded_beside"]):
        assert sorted(recorded) == ["GET /health", "POST /predict"]
        assert recorded["POST /predict"]["latencies"] == [4.2, 7.9]
        assert sorted(recorded["GET /health"]["latencies"]) == [1.0, 12]
        assert recorded["POST /predict"]["reasons"] == {"ConnectionResetError": 1}
        assert recorded["GET /health"]["reasons"] == {"bad body": 1}
    beside = seen["beside"]
    assert beside["handlers"] == 2  # the unknown listener stays, the plugin's beside it
