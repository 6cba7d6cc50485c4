"""Where a contract step's provider states come from (runs in the verifier child).

``states:`` in a contract step names one source; :func:`open_states` builds its handler:

- ``testbed-registry``: the testbed registry's public API (:mod:`harness.contract.states`);
- ``mlflow``: MLflow's registry REST API (:mod:`harness.contract.mlflow_states`);
- ``{module: "pkg.mod:handler"}``: a Python callable
  ``handler(state, params, action) -> dict | None`` (``action`` is ``"setup"`` or
  ``"teardown"``; the dict holds the values for provider-state generators);
- ``{url: ...}``: the provider's own state-change endpoint (Pact's protocol: POST
  ``{"state", "params", "action"}``, JSON values back).

Every source is served through the harness's :class:`~harness.contract.states.StateServer`,
which answers the verifier 400 with the reason for any failure (a source that raises,
a URL that answers 5xx or is down): the interaction fails at once instead of the verifier
retrying for two minutes.
"""

from __future__ import annotations

import http.client
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from harness.contract.states import StateHandler, StateSetupError, StateValues

BUILTIN_SOURCES = ("testbed-registry", "mlflow")


@dataclass(frozen=True)
class StateSource:
    """A step's ``states:`` resolved for the child: a kind and where it points."""

    kind: str  # "testbed-registry" | "mlflow" | "module" | "url"
    base_url: str = ""  # the API the built-ins talk to
    target: str = ""  # "pkg.mod:handler" or the state-change URL

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "base_url": self.base_url, "target": self.target}

    @staticmethod
    def from_json(raw: Mapping[str, Any]) -> StateSource:
        return StateSource(str(raw["kind"]), str(raw.get("base_url", "")), str(raw["target"]))


def load_callable(reference: str) -> Callable[..., Any]:
    """``pkg.mod:function`` imported; StateSetupError says what is wrong with it."""
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr:
        raise StateSetupError(f"state handler {reference!r} is not 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise StateSetupError(
            f"state handler module {module_name!r} failed to import: {type(exc).__name__}: {exc}"
        ) from None
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise StateSetupError(f"state handler {reference!r}: {module_name} has no function {attr}")
    return handler  # type: ignore[no-any-return]


@dataclass
class CallableStates:
    """States set up by a user's Python function."""

    handler: Callable[..., Any]
    reference: str

    def setup(self, state: str, params: Mapping[str, Any]) -> StateValues:
        return self._call(state, params, "setup")

    def teardown(self, state: str, params: Mapping[str, Any], values: StateValues) -> None:
        self._call(state, params, "teardown")

    def remove_all(self) -> list[str]:
        return []

    def _call(self, state: str, params: Mapping[str, Any], action: str) -> StateValues:
        try:
            values = self.handler(state, dict(params), action)
        except StateSetupError:
            raise
        except Exception as exc:
            raise StateSetupError(
                f"{self.reference} raised {type(exc).__name__}: {exc} ({action} of {state!r})"
            ) from None
        if values is None:
            return {}
        if not isinstance(values, dict):
            raise StateSetupError(
                f"{self.reference} returned {type(values).__name__}, not a dict of values"
            )
        return values


@dataclass
class UrlStates:
    """States set up by the provider's own state-change endpoint (forwarded, so that its
    failures come back to the verifier as 400 with the reason)."""

    url: str
    timeout_s: float = 10.0

    def setup(self, state: str, params: Mapping[str, Any]) -> StateValues:
        return self._post(state, params, "setup")

    def teardown(self, state: str, params: Mapping[str, Any], values: StateValues) -> None:
        self._post(state, params, "teardown")

    def remove_all(self) -> list[str]:
        return []

    def _post(self, state: str, params: Mapping[str, Any], action: str) -> StateValues:
        parts = urlsplit(self.url)
        conn_cls = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        conn = conn_cls(parts.hostname or "127.0.0.1", parts.port, timeout=self.timeout_s)
        body = json.dumps({"state": state, "params": dict(params), "action": action})
        path = parts.path or "/"
        if parts.query:
            path += f"?{parts.query}"
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
        except OSError as exc:
            raise StateSetupError(f"state-change URL {self.url} unreachable ({exc})") from None
        finally:
            conn.close()
        text = data.decode(errors="replace")
        if not 200 <= response.status < 300:
            raise StateSetupError(
                f"state-change URL answered {response.status} to {action} of {state!r}: "
                f"{text[:200]}"
            )
        try:
            values = json.loads(text) if text.strip() else {}
        except ValueError:
            return {}  # a plain "OK": no values for generators
        return values if isinstance(values, dict) else {}


def open_states(
    source: StateSource | None,
    run_prefix: str,
    tokens: Mapping[str, str],
    headers: Mapping[str, str],
) -> StateHandler | None:
    """The handler for ``source`` (None: the provider has no provider states)."""
    if source is None:
        return None
    if source.kind == "testbed-registry":
        from harness.contract.states import RegistryApi, RegistryStates

        return RegistryStates(RegistryApi(source.base_url, tokens.get("write", "")), run_prefix)
    if source.kind == "mlflow":
        from harness.contract.mlflow_states import MlflowApi, MlflowStates

        return MlflowStates(MlflowApi(source.base_url, dict(headers)), run_prefix)
    if source.kind == "module":
        return CallableStates(load_callable(source.target), source.target)
    if source.kind == "url":
        return UrlStates(source.target)
    raise StateSetupError(f"unknown provider-state source {source.kind!r}")


@dataclass
class UnavailableStates:
    """A source that could not be opened: every state fails with the reason."""

    reason: str

    def setup(self, state: str, params: Mapping[str, Any]) -> StateValues:
        raise StateSetupError(self.reason)

    def teardown(self, state: str, params: Mapping[str, Any], values: StateValues) -> None:
        return

    def remove_all(self) -> list[str]:
        return []


def states_or_reason(
    source: StateSource | None,
    run_prefix: str,
    tokens: Mapping[str, str],
    headers: Mapping[str, str],
) -> StateHandler | None:
    """:func:`open_states`, or a handler failing every state with the reason it did not open."""
    try:
        return open_states(source, run_prefix, tokens, headers)
    except StateSetupError as exc:
        return UnavailableStates(str(exc))


def crash_sweeper(
    source: StateSource | None,
    run_prefix: str,
    names: set[str],
    tokens: Mapping[str, str],
    headers: Mapping[str, str],
) -> StateHandler | None:
    """A handler that removes what a built-in source would have created under ``names``
    (the verifier child died before cleaning up); None when there is nothing to sweep."""
    if source is None or not names or source.kind not in BUILTIN_SOURCES:
        return None
    if source.kind == "testbed-registry":
        from harness.contract.states import RegistryApi, RegistryStates

        registry = RegistryStates(RegistryApi(source.base_url, tokens.get("write", "")), run_prefix)
        registry.claimed_names = {registry.unique(name) for name in names}
        return registry
    from harness.contract.mlflow_states import MlflowApi, MlflowStates

    return MlflowStates(MlflowApi(source.base_url, dict(headers)), run_prefix)  # by prefix
