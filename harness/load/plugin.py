"""The harness's Locust plugin: exact response times by request start, per second,
failure reasons, merged across workers, nothing dropped at the end.

Runs INSIDE locust processes only. The load runner passes it to Locust beside the
user's locustfile (``locust -f user.py,.../harness/load/plugin.py``); it defines no
User class. With ``HARNESS_INTERVAL_PATH`` unset it does nothing.

- Every request (``events.request``; the plugin's listener takes the place of
  Locust's own stats listener and does that one's work as well) is recorded in an HDR
  histogram (µs, three significant digits) of its endpoint ("<request type> <name>")
  for the wall-clock second in which it *started*; a request made by an open-model
  arrival is timed and attributed from its intended start (see
  ``harness.load.arrival``). A failed request keeps its normalised reason. See
  ``harness.load.recorder``.
- Every request is counted in flight for the second it started in
  (``harness.load.inflight``): by the session wrapper (FastHttpSession's in C where
  it was built, ``_inflight.c``), from the call into HttpSession/FastHttpSession until
  Locust reports it (a ``catch_response`` request: the end of its with-block); an
  open-model arrival by its scheduler, from its spawn to its end, for the second of
  its intended start.
- Once a second each worker ships its ended seconds (and late answers for earlier
  ones, and changes in their counts in flight) to the master
  (``runner.send_message("harness_interval", ...)``); the master merges them and
  appends one JSON line per second to HARNESS_INTERVAL_PATH as soon as every worker
  has reported that second (or 1.5 s after it ended), and a ``"late": true`` line for
  answers (or open counts) that changed after their second was written. Every line
  carries ``open``: the second's requests still in flight, all workers together
  (``awaiting``: workers not heard from yet). The orchestrator closes a second once
  nothing of it and of every earlier second is open (``harness.load.closing``).
- At the end (``test_stop`` on the master, before Locust tells the workers to quit
  and waits only 0.5 s for them) the master asks every worker to stop its users,
  which get the stop timeout to finish; a request still open then is killed and
  counted ``unfinished``. Each worker ships everything and answers
  "harness_final"; the master waits for all of them (bounded by the stop timeout
  plus FINAL_MARGIN_S). A SIGTERM (the harness aborting) skips that wait.

Lines: {"type": "start", ...}, then {"type": "interval", "second": S,
"endpoints": {"POST /predict": {"type", "name", "count", "failures", "hist",
"reasons"?, "unfinished"?}}, "scheduled", "sent", "unsent", "finished",
"unfinished_arrivals", "workers", "late"?, "open", "awaiting"?, "written_at"} and
{"type": "end"} at quit.
"""

from __future__ import annotations

import inspect
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.clients import HttpSession
from locust.clients import ResponseContextManager as HttpResponseContext
from locust.contrib.fasthttp import FastHttpSession
from locust.contrib.fasthttp import ResponseContextManager as FastResponseContext
from locust.env import Environment
from locust.runners import MasterRunner, Runner, WorkerRunner

# From a checkout, the harness package sits two levels up; a remote worker started with
# `locust -f - --worker` gets this file copied into its temp dir and needs the harness
# package installed (pip install) instead.
_HERE = Path(__file__).resolve()
if len(_HERE.parents) > 2 and (_HERE.parents[2] / "harness" / "load").is_dir():
    sys.path.append(str(_HERE.parents[2]))
from harness.load import arrival, inflight  # noqa: E402
from harness.load.answers import ANSWER_KEY, VersionSource  # noqa: E402
from harness.load.recorder import EndpointRecord, Merger, Recorder, failure_reason  # noqa: E402

try:
    from harness.load import _inflight as _inflight_c
except ImportError:  # not built (no C compiler at install): the Python twin serves
    _inflight_c = None  # type: ignore[assignment]

PATH_ENV = "HARNESS_INTERVAL_PATH"
PURE_ENV = "HARNESS_PLUGIN_PURE"
MESSAGE = "harness_interval"
STOP_MESSAGE = "harness_stop"
FINAL_MESSAGE = "harness_final"
FINAL_MARGIN_S = 5.0


class _State:
    merger: Merger | None = None
    quitting = False  # SIGTERM or the end: no more waiting for workers
    finals: set[str] = set()  # one set per process
    active = False
    versions: VersionSource | None = None  # the step's model_version (HARNESS_MODEL_VERSION)


_recorder = Recorder()
_SECONDS = _recorder.seconds
_ARRIVALS_IN_USE = arrival.IN_USE
_OPEN = inflight.OPEN
_SECOND_KEY = "_harness_second"  # on a catch_response context manager: its start second


def _listener(runner: Runner | None) -> Callable[..., None]:
    """The plugin's request listener. Per request, so kept cheap (see
    bench/load_plugin_instructions.py): no lock, no string work, no call for an
    answered request of a closed model without answer checks, one clock read only when
    Locust gave no start time or for an open-model arrival. Every keyword Locust passes
    is a named parameter (``response_length`` and ``url`` are not used): Python then
    matches them without building a dict for the rest.

    With ``runner``, the listener takes the place of Locust's own stats listener (see
    :func:`_install_listener`) and also does exactly what that one did, even when the
    recording raised: Locust's stats stay as they were, and a request costs one
    listener call instead of two (bench/load_plugin_instructions.py: the two jobs in one
    call take about as many instructions as Locust's own listener alone, whose
    ``**_kwargs`` builds a dict per request)."""
    arrivals_in_use, seconds, recorder = _ARRIVALS_IN_USE, _SECONDS, _recorder

    def on_request(
        request_type: str,
        name: str,
        response_time: float,
        response_length: int = 0,
        response: object = None,
        context: dict[str, Any] | None = None,
        exception: object = None,
        start_time: float | None = None,
        url: str | None = None,
        **_: Any,
    ) -> None:
        try:
            if arrivals_in_use[0] and (due := arrival.intended()) is not None:
                start_s, latency_ms = _arrival_timing(due, response_time, start_time)
            else:
                latency_ms = response_time or 0.0
                start_s = start_time or time.time() - latency_ms / 1000.0
            bucket = seconds.get(int(start_s))
            endpoint = bucket.get((request_type, name)) if bucket is not None else None
            if endpoint is None:
                endpoint = recorder.endpoint(request_type, name, start_s)
            endpoint.latencies_ms.append(latency_ms)
            if exception is not None or context or _State.versions is not None:
                _record_more(endpoint, exception, response, context)
        finally:  # Locust's stats whatever happened above, as its own listener would
            if runner is not None:
                stats = runner.stats
                stats.log_request(request_type, name, response_time, response_length)  # type: ignore[arg-type]
                if exception:
                    stats.log_error(request_type, name, exception)  # type: ignore[arg-type]

    return on_request


_on_request = _listener(None)
"""The listener beside Locust's own (where that one is not the expected one)."""


def _install_listener(environment: Environment) -> None:
    """Put the plugin's listener in the place of Locust's own stats listener (the one
    its runner adds), which it does the work of; where that listener is not the one
    this plugin knows, add the plugin's beside it instead."""
    handlers = environment.events.request._handlers
    for index, handler in enumerate(handlers):
        if _is_locusts_stats_listener(handler, environment.runner):
            handlers[index] = _listener(environment.runner)
            return
    environment.events.request.add_listener(_on_request)  # type: ignore[no-untyped-call]


_LOCUST_LISTENER = [
    ("request_type", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
    ("name", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
    ("response_time", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
    ("response_length", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
    ("exception", inspect.Parameter.POSITIONAL_OR_KEYWORD, None),
    ("_kwargs", inspect.Parameter.VAR_KEYWORD, inspect.Parameter.empty),
]
"""locust.runners.Runner.__init__'s ``on_request``: its parameters. Its body calls
``self.stats.log_request(...)`` and, for an exception, ``self.stats.log_error(...)``,
nothing else (its code's names are checked too)."""


def _is_locusts_stats_listener(handler: Any, runner: object) -> bool:
    code = getattr(handler, "__code__", None)
    if getattr(handler, "__qualname__", "") != "Runner.__init__.<locals>.on_request" or (
        code is None or code.co_names != ("stats", "log_request", "log_error")
    ):
        return False
    cells = [cell.cell_contents for cell in handler.__closure__ or ()]
    parameters = inspect.signature(handler).parameters.values()
    return cells == [runner] and runner is not None and [
        (p.name, p.kind, p.default) for p in parameters
    ] == _LOCUST_LISTENER


def _arrival_timing(
    due: tuple[float, float], response_time: float | None, start_time: float | None
) -> tuple[float, float]:
    """(start second, latency ms) of an open-model arrival's request: from its
    intended start to where Locust's own timing ends, i.e. how late the request was
    sent plus its response time (not what the hooks before this one or a
    catch_response block did after the answer came)."""
    if start_time and response_time is not None:
        return due[1], response_time + max(start_time - due[1], 0.0) * 1000.0
    return due[1], (time.perf_counter() - due[0]) * 1000.0


def _record_more(
    endpoint: EndpointRecord, exception: object, response: object,
    context: dict[str, Any] | None,
) -> None:
    """A failed request's reason; a checked answer or the model version answering."""
    if exception is not None:
        endpoint.fail(failure_reason(exception, getattr(response, "status_code", None)))
    answer = context.get(ANSWER_KEY) if context else None
    if answer is None and _State.versions is not None:
        answer = _State.versions.answer(response)
    if answer is not None:
        endpoint.answered(answer)


def _counting_unfinished(original: Any) -> Any:
    """Wrap a session's ``request``: count the request in flight for the second it
    started in until Locust has reported it (``harness.load.inflight``; with
    ``catch_response`` that is at the end of the with-block, see
    :func:`_reporting_closes`), and count a request killed in flight (the stop timeout
    ran out) as unfinished instead of letting it vanish. An open-model arrival is
    counted in flight by its scheduler, keyed by its intended start. Any session
    class; FastHttpSession gets :func:`_fast_counting_unfinished`, the same with its
    exact parameters."""
    in_flight, clock, arrivals_in_use = _OPEN, time.time, _ARRIVALS_IN_USE

    def request(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if arrivals_in_use[0] and arrival.intended() is not None:
            return _arrival_request(original, self, method, url, _name(args, kwargs), args, kwargs)
        started = clock()
        second = int(started)
        in_flight[second] = in_flight.get(second, 0) + 1
        try:
            response = original(self, method, url, *args, **kwargs)
        except BaseException as exc:
            _cut_off(exc, second, self, method, _name(args, kwargs), url, started)
            raise
        if (args or kwargs.get("catch_response")) and getattr(response, "_catch_response", False):
            response.__dict__[_SECOND_KEY] = second  # in flight until its __exit__
        else:
            in_flight[second] -= 1
        return response

    request.__wrapped__ = original  # type: ignore[attr-defined]
    return request


def _name(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The ``name`` argument of a session's request (the first after ``url``, in
    HttpSession and FastHttpSession), however it was passed."""
    return args[0] if args else kwargs.get("name")


def _fast_counting_unfinished(original: Any) -> Any:
    """:func:`_counting_unfinished` for FastHttpSession.request, with its parameters
    named (and its very default values): passing them on positionally costs a third
    of what re-packing ``*args, **kwargs`` does, per request (see
    bench/load_plugin_cost.py). Used only where the signature is the one below
    (:func:`_install_session_wrappers` checks)."""
    in_flight, clock, arrivals_in_use = _OPEN, time.time, _ARRIVALS_IN_USE

    def request(
        self: Any, method: str, url: str, name: Any = None, data: Any = None,
        catch_response: bool = False, stream: bool = False, headers: Any = None,
        auth: Any = None, json: Any = None, allow_redirects: bool = True,
        context: Any = None, **kwargs: Any,
    ) -> Any:
        if arrivals_in_use[0] and arrival.intended() is not None:
            args = (name, data, catch_response, stream, headers, auth, json, allow_redirects,
                    context)
            return _arrival_request(original, self, method, url, name, args, kwargs)
        started = clock()
        second = int(started)
        in_flight[second] = in_flight.get(second, 0) + 1
        try:
            if kwargs:
                response = original(self, method, url, name, data, catch_response, stream,
                                    headers, auth, json, allow_redirects, context, **kwargs)
            else:  # a plain call, not a call with an unpacked dict: a third cheaper
                response = original(self, method, url, name, data, catch_response, stream,
                                    headers, auth, json, allow_redirects, context)
        except BaseException as exc:
            _cut_off(exc, second, self, method, name, url, started)
            raise
        if catch_response and getattr(response, "_catch_response", False):
            response.__dict__[_SECOND_KEY] = second  # in flight until its __exit__
        else:
            in_flight[second] -= 1
        return response

    request.__defaults__ = original.__defaults__
    request.__wrapped__ = original  # type: ignore[attr-defined]
    return request


def _cut_off(
    exc: BaseException, second: int, session: Any, method: str, name: Any, url: str,
    started: float,
) -> None:
    """A wrapped request ended by an exception: no longer in flight; if it was killed
    (the stop timeout ran out), it counts as unfinished."""
    _OPEN[second] -= 1
    if isinstance(exc, gevent.GreenletExit):
        _record_unfinished(session, method, url, name, started)


def _arrival_request(
    original: Any, session: Any, method: str, url: str, name: Any, args: Any,
    kwargs: dict[str, Any],
) -> Any:
    """An open-model arrival's request (in flight by its scheduler): a killed one is
    unfinished, for the second of its intended start. ``name`` is the request's
    ``name`` argument, however it was passed."""
    try:
        return original(session, method, url, *args, **kwargs)
    except gevent.GreenletExit:
        _record_unfinished(session, method, url, name, arrival.intended_start_wall())
        raise


def _record_unfinished(session: Any, method: str, url: str, name: Any, started: float) -> None:
    label = name or getattr(session, "request_name", None) or url
    _recorder.record_unfinished(method.upper(), str(label), started)


def _reporting_closes(original: Any) -> Any:
    """Wrap a ``catch_response`` context manager's ``__exit__`` (where Locust reports
    the request): the request stops being in flight once it has been reported."""

    def __exit__(self: Any, *exc: Any) -> Any:
        try:
            return original(self, *exc)
        finally:
            second = self.__dict__.pop(_SECOND_KEY, None)
            if second is not None:
                _OPEN[second] -= 1

    __exit__.__wrapped__ = original  # type: ignore[attr-defined]
    return __exit__


_FAST_SIGNATURE = inspect.signature(
    _fast_counting_unfinished(FastHttpSession.request), follow_wrapped=False
)


def _wrapper_for(session: type) -> Any:
    """The fast wrapper where the session's ``request`` has exactly its parameters
    (FastHttpSession of the pinned Locust), else the generic one."""
    original = session.request  # type: ignore[attr-defined]
    if session is FastHttpSession and _same_parameters(original, _FAST_SIGNATURE):
        return _fast_wrapper(original)
    return _counting_unfinished(original)


def _fast_wrapper(original: Any) -> Any:
    """In C where it is built (``harness/load/_inflight.c``: it hands every call but a
    closed-model one without ``catch_response`` to its Python twin) and not turned off
    by HARNESS_PLUGIN_PURE=1; else the twin, :func:`_fast_counting_unfinished`."""
    twin = _fast_counting_unfinished(original)
    if _inflight_c is None or os.environ.get(PURE_ENV, "") == "1":
        return twin
    return _inflight_c.CountingRequest(original, _OPEN, _ARRIVALS_IN_USE, twin, _cut_off)


def _same_parameters(function: Any, signature: inspect.Signature) -> bool:
    ours = [(p.name, p.kind) for p in signature.parameters.values()]
    return ours == [(p.name, p.kind) for p in inspect.signature(function).parameters.values()]


def _install_session_wrappers() -> None:
    for session in (HttpSession, FastHttpSession):
        if not hasattr(session.request, "__wrapped__"):
            session.request = _wrapper_for(session)  # type: ignore[method-assign]
    for manager in (HttpResponseContext, FastResponseContext):
        if not hasattr(manager.__exit__, "__wrapped__"):
            manager.__exit__ = _reporting_closes(manager.__exit__)  # type: ignore[method-assign]


def _ship(environment: Environment, until_second: int) -> None:
    runner = environment.runner
    for data in _recorder.take(until_second, arrival.COUNTERS, _OPEN):
        if isinstance(runner, WorkerRunner):
            runner.send_message(MESSAGE, data)
        elif _State.merger is not None:
            _State.merger.add("local", data)
    if _State.merger is not None and not isinstance(runner, WorkerRunner):
        _State.merger.flush(_worker_count(environment))


def _ship_forever(environment: Environment) -> None:
    while True:
        now = time.time()
        gevent.sleep(max(int(now) + 1.05 - now, 0.01))
        _ship(environment, arrival.shippable_until(time.time()))


def _worker_count(environment: Environment) -> int:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        return max(runner.worker_count, 1)
    return 1


def _merge_forever(environment: Environment) -> None:
    while True:
        gevent.sleep(0.1)
        if _State.merger is not None:
            _State.merger.flush(_worker_count(environment))


def _on_message(environment: Environment, msg: Any, **_: Any) -> None:
    if _State.merger is not None:
        _State.merger.add(str(msg.node_id), msg.data)


def _on_final(environment: Environment, msg: Any, **_: Any) -> None:
    _State.finals.add(str(msg.node_id))


def _on_stop_request(environment: Environment, msg: Any, **_: Any) -> None:
    """Worker: the master's run is over. Stop the users (they get the stop timeout),
    ship everything, say so."""

    def stop_and_report() -> None:
        runner = environment.runner
        assert runner is not None
        runner.stop()
        _ship(environment, int(time.time()) + 2)
        if isinstance(runner, WorkerRunner):
            runner.send_message(FINAL_MESSAGE, None)

    gevent.spawn(stop_and_report)


def _master_test_stop(environment: Environment, **_: Any) -> None:
    """Master, end of the run: wait for every worker's final shipment."""
    runner = environment.runner
    if _State.quitting or not isinstance(runner, MasterRunner):
        return
    expected = {client.id for client in runner.clients.all}
    if not expected:
        return
    runner.send_message(STOP_MESSAGE, None)
    deadline = time.monotonic() + float(environment.stop_timeout or 0.0) + FINAL_MARGIN_S
    while not expected <= _State.finals and time.monotonic() < deadline:
        if _State.quitting:
            return
        gevent.sleep(0.05)


def _on_init(environment: Environment, **_: Any) -> None:
    """Masters and local runners write the stream only when HARNESS_INTERVAL_PATH is
    set; workers always record and ship (a remote worker does not get the harness's
    environment), and a master without a path ignores what they send."""
    path_text = os.environ.get(PATH_ENV, "").strip()
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message(MESSAGE, _on_message)
        runner.register_message(FINAL_MESSAGE, _on_final)
        events.test_stop.add_listener(_master_test_stop)  # type: ignore[no-untyped-call]
        if path_text:
            _State.merger = Merger(Path(path_text))
            gevent.spawn(_merge_forever, environment)
    elif isinstance(runner, WorkerRunner):
        runner.register_message(STOP_MESSAGE, _on_stop_request)
        events.test_stop.add_listener(  # type: ignore[no-untyped-call]
            lambda **_: _ship(environment, int(time.time()) + 2)
        )
    elif path_text:
        _State.merger = Merger(Path(path_text))
        events.test_stop.add_listener(  # type: ignore[no-untyped-call]
            lambda **_: _ship(environment, int(time.time()) + 2)
        )
    else:
        return  # plain single-process locust: nothing to do
    _State.active = True
    if not isinstance(runner, MasterRunner):
        _State.versions = VersionSource.from_env(os.environ)
        _install_listener(environment)
        _install_session_wrappers()
        _recorder.start()
        gevent.spawn(_ship_forever, environment)
    if _State.merger is not None:
        role = "master" if isinstance(runner, MasterRunner) else "local"
        _State.merger.write_line(
            {"type": "start", "role": role, "pid": os.getpid(), "at": time.time()}
        )


def _on_quitting(environment: Environment, **_: Any) -> None:
    _State.quitting = True
    if _State.merger is None:
        return
    if not isinstance(environment.runner, MasterRunner):
        _ship(environment, int(time.time()) + 2)
    _State.merger.flush(_worker_count(environment), final=True)
    _State.merger.write_line({"type": "end", "at": time.time()})


events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_on_quitting)  # type: ignore[no-untyped-call]
