"""What the harness plugin adds to every request, in CPU microseconds, measured in a
Locust-patched process (the same as a worker): the ``events.request`` listener
(``plugin._on_request``: start second, latency, failure reason, the model-version
look-up, the record; this is the listener beside Locust's own, where a harness run
puts it in that one's place and saves a listener call, see
bench/load_plugin_instructions.py) and the session wrapper that counts each request in
flight for its start second (closing, ``harness.load.inflight``) and those cut off at
the end: in C where it was built, and its Python twin.

    .venv/bin/python bench/load_plugin_cost.py [--repeat 9]

The best of ``--repeat`` timings of 20,000 calls each, in this thread's CPU time (the
minimum of CPU time is the figure least moved by other people's load). Divided by
bare Locust's CPU per request (printed by bench/load_overhead.py, about 90-220 µs
for FastHttpUser against the fast server here, by the hour) it is the plugin's share of a
worker's CPU: the overhead budget is 3 % (ratio >= 0.97). Shipping (once a second)
is timed too, per second of 4,000 requests.

A hot loop's figure is a floor: in a busy worker (among gevent, geventhttpclient and
Locust's own stats) the same code costs two to three times as much, and
bench/load_overhead.py measures that. bench/load_plugin_instructions.py counts the
instructions instead (valgrind), beside bare Locust's own per request: figures that
the machine's load does not move.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import timeit

from load_common import ROOT
from load_plugin_instructions import FastSessionShape

os.environ.pop("HARNESS_INTERVAL_PATH", None)
sys.path.insert(0, str(ROOT))

import locust  # noqa: F401  (gevent-patches the process, as in a worker)

from harness.load import arrival, plugin
from harness.load.recorder import Recorder

CALLS = 20_000


def best_us(call: object, repeat: int) -> float:
    times = timeit.repeat(call, number=CALLS, repeat=repeat, timer=time.thread_time)  # type: ignore[arg-type]
    return min(times) / CALLS * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    plugin._recorder.start()
    request = {
        "request_type": "GET", "name": "/static", "response_time": 1.234, "exception": None,
        "start_time": 1.0, "response": None, "context": {}, "url": "http://h/static",
        "response_length": 15,
    }

    def listener_shape(  # what Locust's fire() pays for a listener of the plugin's shape
        request_type: str, name: str, response_time: float, response_length: int = 0,
        response: object = None, context: object = None, exception: object = None,
        start_time: float | None = None, url: str | None = None, **_: object,
    ) -> None:
        return None

    shape = best_us(lambda: listener_shape(**request), args.repeat)
    listener = best_us(lambda: plugin._on_request(**request), args.repeat)
    session = FastSessionShape()
    wrapped = plugin._fast_wrapper(FastSessionShape.request)  # in C where it is built
    twin = plugin._fast_counting_unfinished(FastSessionShape.request)
    bare_call = best_us(lambda: FastSessionShape.request(session, "GET", "/static", name="/s"),
                        args.repeat)
    wrapped_call = best_us(lambda: wrapped(session, "GET", "/static", name="/s"), args.repeat)
    twin_call = best_us(lambda: twin(session, "GET", "/static", name="/s"), args.repeat)
    ship_ms = shipping_ms(args.repeat)
    total = listener + (wrapped_call - bare_call)
    print(f"listener (plugin._on_request, called with Locust's keywords): {listener:.2f} us "
          f"(of which the call itself: {shape:.2f} us)")
    print(f"session wrapper (FastHttpSession's: in flight, unfinished), "
          f"{type(wrapped).__name__}: {wrapped_call - bare_call:.2f} us; its Python twin: "
          f"{twin_call - bare_call:.2f} us")
    print(f"per request: {total:.2f} us; shipping a second of 4,000 requests: {ship_ms:.2f} ms "
          f"({ship_ms * 1000 / 4000:.2f} us a request)")
    for bare_us in (100.0, 200.0):
        share = (total + ship_ms * 1000 / 4000) / bare_us
        print(f"  share of a worker at {bare_us:.0f} us/request bare: {share:.1%} "
              f"(ratio {1 / (1 + share):.3f})")
    print(f"load avg {os.getloadavg()}; arrivals in use: {arrival.IN_USE[0]}")


def shipping_ms(repeat: int) -> float:
    """CPU of one Recorder.take (HDR histograms encoded) for a second of 4,000."""
    latencies = [random.uniform(1.0, 5.0) for _ in range(4000)]
    best = float("inf")
    for second in range(repeat):
        recorder = Recorder()
        recorder.start(1000.0)
        for i, value in enumerate(latencies):
            recorder.record("GET", "/static", 1000.0 + second + i / 4000, value, None)
        recorder.shipped_until = 1000 + second
        took = timeit.timeit(lambda r=recorder, s=second: r.take(1001 + s, {}), number=1,
                             timer=time.thread_time)
        best = min(best, took)
    return best * 1000


if __name__ == "__main__":
    main()
