"""A fake `locust` for the runner's tests: behaves as FAKE_LOCUST_MODE says."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from harness.load import histogram


def line(data: dict[str, object]) -> str:
    return json.dumps(data) + "\n"


def good_stream(second: int, seconds: int = 2) -> str:
    hist = histogram.new_histogram()
    for value in (5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 40.0):
        histogram.record_ms(hist, value)
    endpoint = {"type": "GET", "name": "/x", "count": 10, "failures": 1,
                "hist": histogram.encode(hist)}
    return (
        line({"type": "start", "role": "master"})
        + "".join(
            line({"type": "interval", "second": second + i, "endpoints": {"GET /x": endpoint}})
            for i in range(seconds)
        )
        + line({"type": "end"})
    )


def main() -> int:
    mode = os.environ["FAKE_LOCUST_MODE"]
    argv = sys.argv[1:]
    Path(os.environ["FAKE_LOCUST_PID_FILE"]).write_text(str(os.getpid()))
    json_path = Path(argv[argv.index("--json-file") + 1] + ".json")
    stream = Path(os.environ["HARNESS_INTERVAL_PATH"])
    second = int(time.time())
    if mode == "hang":
        time.sleep(1000)
    if mode == "crash":
        sys.stderr.write("Unknown User(s): Ghost\n")
        return 1
    if mode == "bad_flag":
        sys.stderr.write("locust: error: unrecognized arguments: --bogus\n")
        return 2
    if mode == "zero":
        stream.write_text(
            line({"type": "start"}) + line({"type": "interval", "second": second, "endpoints": {}})
            + line({"type": "end"})
        )
        json_path.write_text("[]")
        return 0
    if mode == "garbage_stream":
        stream.write_text(good_stream(second) + "{{{ garbage\n")
    elif mode == "three_seconds":
        stream.write_text(good_stream(second, 3))
    elif mode != "no_stream":
        stream.write_text(good_stream(second))
    if mode == "garbage_json":
        json_path.write_text("<html>not json")
    elif mode != "no_json":
        json_path.write_text(json.dumps([{"name": "/x", "method": "GET", "num_requests": 20}]))
    return 3  # some requests failed


if __name__ == "__main__":
    sys.exit(main())
