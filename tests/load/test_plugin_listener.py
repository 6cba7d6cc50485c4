"""The plugin's request listener takes the place of Locust's own stats listener and
does its work first: Locust's stats come out the same as with Locust's listener, and
the plugin records every request (its latency, a failure's reason), and Locust's
stats are kept even for an event the plugin's recording raises on; where Locust's
listener is not the one the plugin knows, the plugin's goes beside it instead.

In a child python (tests/load/plugin_listener_check.py): Locust patches the process
it is imported in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHECK = Path(__file__).with_name("plugin_listener_check.py")


def test_listener_in_locusts_place_keeps_locusts_stats() -> None:
    done = subprocess.run(
        [sys.executable, str(CHECK)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
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
