"""The harness plugin's per-request cost in CPU instructions, counted by valgrind
(cachegrind), beside bare Locust's own instructions per request: a figure that other
people's load on the machine does not move (the timing benchmarks' spreads here are
several per cent). The counts are not exact to the instruction: address-space layout
moves them, by up to about 1,000 a call for a part and 1 % for bare Locust's request
from one run to the next.

    .venv/bin/python bench/load_plugin_instructions.py [--calls 100000] [--requests 2000]

Needs valgrind (``apt-get install valgrind``; not part of the project's set-up).

Each part runs in a child python under ``valgrind --tool=cachegrind`` twice, with 0
calls and with ``--calls`` calls (PYTHONHASHSEED=0, so start-up is the same); the
difference divided by the calls is the part's instructions per call:

- ``listener``: a real local runner's request hook (Locust's EventHook) firing a
  request with Locust's keywords, the plugin's listener installed as in a harness run
  (in the place of Locust's own stats listener, doing its work too), minus the same
  hook with Locust's listener alone: what the plugin's listener adds.
  ``listener beside``: the plugin's listener added beside Locust's (where that one is
  not the one the plugin knows).
- ``wrapper``: the plugin's FastHttpSession wrapper (in C where it is built) around a
  method with FastHttpSession.request's exact parameters, called on an instance, minus
  that method called so directly; ``python wrapper``: its Python twin (no C
  compiler); ``generic wrapper``: the wrapper any other session class gets.
- ``locust request``: bare locust (FastHttpUser, bench/load_static_locustfile.py)
  against bench/load_fast_server.py, quitting after N requests: runs of
  ``--requests`` / 4 and ``--requests`` * 5 / 4 requests, the difference divided by
  ``--requests``.

Measured 2026-12-01 22:30 UTC: bare Locust 537,268 a request; the plugin's listener
+650 (beside Locust's: +7,226), its C wrapper +1,390 (Python twin +4,244; generic
+6,725): both 2,039, 0.38 % of bare Locust (at 57c6660, before the listener took
Locust's place and before the C wrapper: 11,428, 2.15 %).

Not counted: the plugin's once-a-second work (shipping: HDR encoding of the second's
latencies, about 0.15 us a request by bench/load_plugin_cost.py). Under valgrind a
second of wall time holds about 50 times fewer requests, so a whole-run count would
charge each request about 50 times that work.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from load_common import ROOT, free_port, table

REQUEST = {
    "request_type": "GET", "name": "/static", "response_time": 1.234, "response_length": 15,
    "response": None, "context": {}, "exception": None, "start_time": 0.0,
    "url": "http://127.0.0.1/static",
}


class FastSessionShape:
    """FastHttpSession.request's parameters, doing nothing."""

    def request(
        self, method: str, url: str, name: Any = None, data: Any = None,
        catch_response: bool = False, stream: bool = False, headers: Any = None,
        auth: Any = None, json: Any = None, allow_redirects: bool = True,
        context: Any = {},  # noqa: B006 (FastHttpSession's own default)
        **kwargs: Any,
    ) -> int:
        return 1


LISTENER_PARTS = ("listener", "listener beside", "locust listener")


def listener_hook(part: str) -> Any:
    """A real local runner's request hook: Locust's own stats listener alone
    (``locust listener``), the plugin's in its place (``listener``: what a harness run
    gets), or the plugin's beside Locust's (``listener beside``: where Locust's is not
    the one the plugin knows)."""
    from locust.env import Environment

    from harness.load import plugin

    environment = Environment()
    environment.create_local_runner()
    if part == "listener":
        plugin._install_listener(environment)
        assert len(environment.events.request._handlers) == 1
    elif part == "listener beside":
        environment.events.request.add_listener(plugin._on_request)
    return environment.events.request


def run_part(part: str, calls: int) -> None:
    """In the child (under valgrind): make ``calls`` calls of one part."""
    os.environ.pop("HARNESS_INTERVAL_PATH", None)
    sys.path.insert(0, str(ROOT))
    import locust  # noqa: F401  (gevent-patches the process, as in a worker)

    from harness.load import plugin

    plugin._recorder.start()
    request = {**REQUEST, "start_time": time.time()}
    if part in LISTENER_PARTS:
        hook = listener_hook(part)
        for _ in range(calls):
            hook.fire(**request)
        return
    original = FastSessionShape.request
    twin = plugin._fast_counting_unfinished(original)
    method = {
        "wrapper": lambda: plugin._fast_wrapper(original),
        "python wrapper": lambda: twin,
        "generic wrapper": lambda: plugin._counting_unfinished(original),
        "no wrapper": lambda: original,
    }[part]()
    session = type("Session", (), {"request": method})()
    for _ in range(calls):
        session.request("GET", "/static", name="/static")


def valgrind(argv: list[str], cwd: Path | None = None) -> int:
    """Instructions executed by ``argv`` (and nothing it starts)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cachegrind.out"
        done = subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}",
             *argv],
            capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"},
            cwd=cwd, timeout=1800, check=False,
        )
        for line in done.stderr.splitlines():
            if "I   refs:" in line or "I    refs:" in line:
                return int(line.split(":")[1].strip().replace(",", ""))
    raise SystemExit(f"valgrind gave no instruction count for {argv}:\n{done.stderr[-2000:]}")


def per_call(part: str, calls: int) -> float:
    me = [sys.executable, str(Path(__file__).resolve()), "--part", part, "--calls"]
    return (valgrind([*me, str(calls)]) - valgrind([*me, "0"])) / calls


def locust_per_request(requests: int) -> float:
    from harness.process import venv_bin

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "bench/load_fast_server.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        counts = []
        for n in (requests // 4, requests * 5 // 4):
            os.environ["HARNESS_BENCH_QUIT_AFTER"] = str(n)
            with tempfile.TemporaryDirectory() as tmp:
                counts.append(valgrind(
                    [venv_bin("locust"), "-f", str(ROOT / "bench/load_static_locustfile.py"),
                     "--headless", "-u", "10", "-r", "100", "-t", "900s",
                     "-H", f"http://127.0.0.1:{port}", "--only-summary"],
                    cwd=Path(tmp),
                ))
        return (counts[1] - counts[0]) / requests
    finally:
        os.environ.pop("HARNESS_BENCH_QUIT_AFTER", None)
        server.kill()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--part", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        run_part(args.part, args.calls)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    load = os.getloadavg()[0]
    parts = {p: per_call(p, args.calls) for p in
             (*LISTENER_PARTS, "wrapper", "python wrapper", "generic wrapper", "no wrapper")}
    locust_ir = locust_per_request(args.requests)
    listener = parts["listener"] - parts["locust listener"]
    beside = parts["listener beside"] - parts["locust listener"]
    wrapper = parts["wrapper"] - parts["no wrapper"]
    python = parts["python wrapper"] - parts["no wrapper"]
    generic = parts["generic wrapper"] - parts["no wrapper"]
    rows = [
        ["bare locust, one request (FastHttpUser)", f"{locust_ir:,.0f}", "100%"],
        ["plugin listener", f"{listener:,.0f}", f"{listener / locust_ir:.2%}"],
        ["plugin wrapper (FastHttpSession)", f"{wrapper:,.0f}", f"{wrapper / locust_ir:.2%}"],
        ["plugin, both (FastHttpUser)", f"{listener + wrapper:,.0f}",
         f"{(listener + wrapper) / locust_ir:.2%}"],
        ["plugin listener beside Locust's (fallback)", f"{beside:,.0f}", "-"],
        ["plugin wrapper in Python (no C compiler)", f"{python:,.0f}", "-"],
        ["plugin wrapper, generic (HttpSession)", f"{generic:,.0f}", "-"],
    ]
    print(table(["per request", "instructions", "of bare locust"], rows))
    print(f"load avg {load:.2f} .. {os.getloadavg()[0]:.2f} (does not move these counts)")


if __name__ == "__main__":
    main()
