"""Provider states, set up through the registry's PUBLIC API (runs in the verifier child).

The verifier POSTs ``{"state", "action": "setup"|"teardown", "params"}`` to this
handler before and after each interaction. A setup registers the models the state
needs under names unique to the run (``<run prefix>-<name>``) and answers their ids
as JSON; the verifier substitutes them into the interaction through provider-state
generators (``generate.provider_state("/models/${model_id}")``). So verification
works against a black-box registry with no test-only endpoint.

A state that cannot be set up is answered with **400** and the reason: the verifier
then fails that interaction at once (a 5xx would make it retry for about two
minutes). Every reason is also recorded in :attr:`StateServer.failures`.

Teardown deletes what the setup created (``DELETE /models/{id}`` with the write
token) and, for names handed out for the interaction itself to register, every
version of that name (found by registering a probe version and listing its
versions). :meth:`RegistryStates.remove_all` sweeps whatever is left at the end.

Stdlib only (``http.client``): the child must start fast.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from harness.contract.state_calls import StateSetupError, StateValues, json_call, set_up

__all__ = [
    "RegistryApi",
    "RegistryStates",
    "StateHandler",
    "StateServer",
    "StateSetupError",
    "StateValues",
]


class StateHandler(Protocol):
    """What the state server calls: set up, tear down, and sweep at the end
    (one per ``states:`` source, see :mod:`harness.contract.state_sources`)."""

    def setup(self, state: str, params: Mapping[str, Any]) -> StateValues: ...

    def teardown(self, state: str, params: Mapping[str, Any], values: StateValues) -> None: ...

    def remove_all(self) -> list[str]: ...


@dataclass
class RegistryApi:
    """The few registry calls the states need, over one base URL with the write token."""

    base_url: str
    write_token: str
    timeout_s: float = 5.0

    def call(self, method: str, path: str, body: object | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.write_token}"}
        return json_call(self.base_url, method, path, headers=headers, body=body,
                         timeout_s=self.timeout_s, service="registry")  # fmt: skip

    def register(
        self, name: str, version: str, framework: str, metrics: Mapping[str, float] | None = None
    ) -> int:
        body: dict[str, object] = {"name": name, "version": version, "framework": framework}
        if metrics:
            body["metrics"] = dict(metrics)
        status, answer = self.call("POST", "/models/register", body)
        if status not in (200, 201):
            raise StateSetupError(
                f"POST /models/register {name} {version}: registry answered {status}: "
                f"{_short(answer)}"
            )
        model_id = _id_of(answer)
        if model_id is None:
            raise StateSetupError(
                f"POST /models/register {name} {version}: no integer model_id in the answer "
                f"({_short(answer)})"
            )
        return model_id

    def transition(self, model_id: int, stage: str) -> None:
        status, answer = self.call("POST", f"/models/{model_id}/transition", {"stage": stage})
        if status != 200:
            raise StateSetupError(
                f"POST /models/{model_id}/transition {stage}: registry answered {status}: "
                f"{_short(answer)}"
            )

    def delete(self, model_id: int) -> bool:
        """True when the model is gone (deleted now, or already absent)."""
        status, _ = self.call("DELETE", f"/models/{model_id}")
        return status in (200, 204, 404)

    def version_ids(self, model_id: int) -> list[int]:
        status, answer = self.call("GET", f"/models/{model_id}/versions")
        if status != 200 or not isinstance(answer, dict):
            return []
        versions = answer.get("versions")
        ids = [_id_of(v) for v in versions or []] if isinstance(versions, list) else []
        return [i for i in ids if i is not None]


def _id_of(body: object) -> int | None:
    """A model's id: ``model_id``, or ``id`` from a registry whose contract is broken
    (the states still set up, so the interactions, not the states, report the defect)."""
    if not isinstance(body, dict):
        return None
    for key in ("model_id", "id"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _short(answer: object) -> str:
    return json.dumps(answer)[:200] if not isinstance(answer, str) else answer[:200]


@dataclass
class RegistryStates:
    """The registry's provider states. ``prefix`` makes every name unique to the run."""

    api: RegistryApi
    prefix: str
    created_ids: set[int] = field(default_factory=set)
    claimed_names: set[str] = field(default_factory=set)
    undeleted: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def unique(self, name: object) -> str:
        base = str(name or "model")
        return f"{self.prefix}-{base}"[:128]

    def setup(self, state: str, params: Mapping[str, Any]) -> StateValues:
        return set_up(self._handlers(), state, params)

    def teardown(self, state: str, params: Mapping[str, Any], values: StateValues) -> None:
        ids = [v for k, v in values.items() if k.endswith("model_id") and isinstance(v, int)]
        for model_id in values.get("_created", []) or ids:
            self._delete(model_id)
        name = values.get("name")
        if state == "no model named" and isinstance(name, str):
            self._sweep_name(name)

    def remove_all(self) -> list[str]:
        """Delete everything the states created or handed out; lines of what stayed."""
        for name in sorted(self.claimed_names):
            self._sweep_name(name)
        for model_id in sorted(self.created_ids):
            self._delete(model_id)
        return list(self.undeleted)

    # -- the states -----------------------------------------------------------------

    def _handlers(self) -> dict[str, Callable[[Mapping[str, Any]], StateValues]]:
        return {
            "": lambda params: {},
            "a model exists": self._model_exists,
            "a model has versions": self._model_has_versions,
            "a model has been promoted twice": self._promoted_twice,
            "no model named": self._no_model_named,
        }

    def _model_exists(self, params: Mapping[str, Any]) -> StateValues:
        name = self.unique(params.get("name"))
        version = str(params.get("version", "1"))
        model_id = self._register(
            name, version, str(params.get("framework", "sklearn")), _metrics(params)
        )
        stage = params.get("stage")
        if isinstance(stage, str) and stage != "none":
            self.api.transition(model_id, stage)
        return {"model_id": model_id, "name": name, "version": version, "_created": [model_id]}

    def _model_has_versions(self, params: Mapping[str, Any]) -> StateValues:
        name = self.unique(params.get("name"))
        versions = params.get("versions") or ["1", "2"]
        if not isinstance(versions, list) or not versions:
            raise StateSetupError("state 'a model has versions': 'versions' must be a list")
        framework = str(params.get("framework", "sklearn"))
        ids = [self._register(name, str(v), framework, _metrics(params)) for v in versions]
        return {"model_id": ids[0], "latest_model_id": ids[-1], "name": name, "_created": ids}

    def _promoted_twice(self, params: Mapping[str, Any]) -> StateValues:
        """Versions moved to production one after the other: the last is in production,
        the ones before are archived (what a rollback needs)."""
        values = self._model_has_versions(params)
        for model_id in values["_created"]:
            self.api.transition(model_id, "production")
        return values

    def _no_model_named(self, params: Mapping[str, Any]) -> StateValues:
        name = self.unique(params.get("name"))
        with self._lock:
            self.claimed_names.add(name)
        return {"name": name}

    # -- bookkeeping ----------------------------------------------------------------

    def _register(
        self, name: str, version: str, framework: str, metrics: Mapping[str, float] | None
    ) -> int:
        model_id = self.api.register(name, version, framework, metrics)
        with self._lock:
            self.created_ids.add(model_id)
        return model_id

    def _delete(self, model_id: int) -> None:
        try:
            gone = self.api.delete(model_id)
        except StateSetupError as exc:
            gone = False
            reason = str(exc)
        else:
            reason = "registry refused the delete"
        with self._lock:
            if gone:
                self.created_ids.discard(model_id)
            else:
                self.undeleted.append(f"model {model_id}: {reason}")

    def _sweep_name(self, name: str) -> None:
        """Delete every version of ``name``: register a probe, list its versions."""
        try:
            probe = self.api.register(name, "harness-probe", "probe")
        except StateSetupError:
            # Nothing registered under the name (or the name is taken by a
            # version we cannot see): nothing more we can find through the API.
            with self._lock:
                self.claimed_names.discard(name)
            return
        try:
            siblings = self.api.version_ids(probe)
        except StateSetupError:
            siblings = []
        for model_id in [*siblings, probe]:
            self._delete(model_id)
        with self._lock:
            self.claimed_names.discard(name)


def _metrics(params: Mapping[str, Any]) -> dict[str, float] | None:
    metrics = params.get("metrics")
    if metrics is None:
        return None
    if not isinstance(metrics, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in metrics.values()
    ):
        raise StateSetupError("state param 'metrics' must map names to numbers")
    return {str(k): float(v) for k, v in metrics.items()}


class StateServer:
    """The HTTP endpoint the verifier calls for provider states (a thread in the child)."""

    def __init__(self, states: StateHandler | None) -> None:
        self.states = states
        self.failures: list[dict[str, str]] = []
        self._values: dict[tuple[str, str], StateValues] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/_pact/state"

    def __enter__(self) -> StateServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def handle(self, request: Mapping[str, Any]) -> tuple[int, StateValues]:
        state = str(request.get("state") or "")
        action = str(request.get("action") or "setup")
        params = request.get("params") or {}
        key = (state, json.dumps(params, sort_keys=True, default=str))
        if not isinstance(params, dict):
            return self._fail(state, "state params must be a JSON object")
        if state == "":
            return 200, {}
        if self.states is None:
            return self._fail(state, "this provider has no provider states to set up")
        try:
            if action == "teardown":
                with self._lock:
                    values = self._values.pop(key, {})
                self.states.teardown(state, params, values)
                return 200, {}
            values = self.states.setup(state, params)
        except StateSetupError as exc:
            return self._fail(state, str(exc))
        except Exception as exc:  # a harness bug must fail fast too, never a 5xx retry stall
            return self._fail(state, f"state handler error: {type(exc).__name__}: {exc}")
        with self._lock:
            self._values[key] = values
        return 200, {k: v for k, v in values.items() if not k.startswith("_")}

    def _fail(self, state: str, reason: str) -> tuple[int, StateValues]:
        with self._lock:
            self.failures.append({"state": state, "reason": reason})
        return 400, {"error": reason}


def _make_handler(server: StateServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                request = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                request = None
            if not isinstance(request, dict):
                status, body = 400, {"error": "state change request is not a JSON object"}
            else:
                status, body = server.handle(request)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
