"""The plugin's session wrappers (in-flight counting): FastHttpSession of the pinned
Locust gets the fast wrapper with its exact parameters, every argument reaches
Locust unchanged, the request is in flight exactly while Locust has it, and one
killed in flight (an open-model arrival's too) is unfinished under its name.

Locust monkey-patches the process it is imported in (gevent), so the checks run in
a child python (tests/load/plugin_wrappers_check.py), which prints what it saw."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

CHECK = Path(__file__).with_name("plugin_wrappers_check.py")


def test_wrappers_pass_everything_through_and_count_in_flight() -> None:
    done = subprocess.run(
        [sys.executable, str(CHECK)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
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
