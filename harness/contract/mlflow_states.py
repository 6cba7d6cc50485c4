"""Provider states for MLflow's model registry, through its public REST API
(``/api/2.0/mlflow/``); runs in the verifier child. Stdlib only.

States (parameters; values answered for provider-state generators):

- ``a registered model exists`` (``name``) -> ``name``
- ``a registered model has versions`` (``name``, ``versions``: how many, default 2)
  -> ``name``, ``latest_version``
- ``an alias points at a version`` (``name``, ``alias``, ``version``, default "2"; the model
  gets that many versions) -> ``name``, ``alias``, ``version``
- ``no registered model named`` (``name``) -> ``name`` (the interaction may create it)

Every name is ``<run prefix>-<n>-<name>``, unique to the run and to the setup;
:meth:`MlflowStates.remove_all` deletes every registered model under the run's prefix (with
its versions) at the end of verification.
Model versions point at a placeholder source: the registry records them (status READY)
without any artifact, which is all a registry contract needs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from harness.contract.state_calls import StateSetupError, StateValues, json_call, set_up

API = "/api/2.0/mlflow"
PLACEHOLDER_SOURCE = "s3://harness-provider-state/no-artifact"


@dataclass
class MlflowApi:
    """The registry calls the states need, with the service's configured headers."""

    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0

    def call(self, method: str, path: str, body: object | None = None) -> tuple[int, Any]:
        return json_call(self.base_url, method, API + path, headers=self.headers, body=body,
                         timeout_s=self.timeout_s, service="MLflow")  # fmt: skip

    def required(self, method: str, path: str, body: object | None = None) -> Any:
        status, answer = self.call(method, path, body)
        if status != 200:
            raise StateSetupError(
                f"{method} {API}{path}: MLflow answered {status}: {json.dumps(answer)[:200]}"
            )
        return answer

    def create_model(self, name: str) -> None:
        self.required("POST", "/registered-models/create", {"name": name})

    def create_version(self, name: str) -> str:
        answer = self.required(
            "POST", "/model-versions/create", {"name": name, "source": PLACEHOLDER_SOURCE}
        )
        try:
            return str(answer["model_version"]["version"])
        except (KeyError, TypeError):
            raise StateSetupError(
                f"POST {API}/model-versions/create: no model_version.version in the answer"
            ) from None

    def set_alias(self, name: str, alias: str, version: str) -> None:
        body = {"name": name, "alias": alias, "version": version}
        self.required("POST", "/registered-models/alias", body)

    def names_with_prefix(self, prefix: str) -> set[str]:
        """Registered models whose name starts with ``prefix`` (the run's own)."""
        query = quote(f"name LIKE '{prefix}%'")
        status, answer = self.call(
            "GET", f"/registered-models/search?filter={query}&max_results=1000"
        )
        if status != 200 or not isinstance(answer, dict):
            raise StateSetupError(f"search for {prefix}*: MLflow answered {status}")
        return {str(m["name"]) for m in answer.get("registered_models", []) if "name" in m}

    def delete_model(self, name: str) -> bool:
        """True when the model is gone (deleted now, or never there)."""
        status, _ = self.call("DELETE", "/registered-models/delete", {"name": name})
        if status == 200:
            return True
        status, _ = self.call("GET", f"/registered-models/get?name={quote(name)}")
        return status == 404


@dataclass
class MlflowStates:
    """MLflow registry provider states; ``prefix`` makes every name unique to the run."""

    api: MlflowApi
    prefix: str
    names: set[str] = field(default_factory=set)
    undeleted: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0

    def unique(self, name: object) -> str:
        """A name no other setup of this run uses (the interactions get it through
        provider-state generators), so teardown can wait for :meth:`remove_all`."""
        with self._lock:
            self._count += 1
            return f"{self.prefix}-{self._count}-{name or 'model'}"[:200]

    def setup(self, state: str, params: Mapping[str, Any]) -> StateValues:
        return set_up(self._handlers(), state, params)

    def teardown(self, state: str, params: Mapping[str, Any], values: StateValues) -> None:
        """Nothing now: names are unique per setup, and deleting under the verifier's
        request timeout failed interactions on a slow MLflow. :meth:`remove_all` does it."""

    def remove_all(self) -> list[str]:
        """Delete every model this run made: the names handed out and whatever MLflow
        lists under the run's prefix (also after a crashed verifier)."""
        try:
            found = self.api.names_with_prefix(f"{self.prefix}-")
        except StateSetupError as exc:
            found = set()
            self.undeleted.append(f"models under {self.prefix}-: {exc}")
        for name in sorted(self.names | found):
            with self._lock:
                self.names.add(name)
            self._delete(name)
        return list(self.undeleted)

    def _handlers(self) -> dict[str, Callable[[Mapping[str, Any]], StateValues]]:
        return {
            "a registered model exists": lambda p: self._model(p, versions=0),
            "a registered model has versions": lambda p: self._model(
                p, versions=_count(p.get("versions", 2))
            ),
            "an alias points at a version": self._alias,
            "no registered model named": self._no_model,
        }

    def _model(self, params: Mapping[str, Any], *, versions: int) -> StateValues:
        name = self._claim(params)
        self.api.create_model(name)
        latest = ""
        for _ in range(versions):
            latest = self.api.create_version(name)
        values: StateValues = {"name": name}
        if latest:
            values["latest_version"] = latest
        return values

    def _alias(self, params: Mapping[str, Any]) -> StateValues:
        version = str(params.get("version", "2"))
        alias = str(params.get("alias", "champion"))
        values = self._model(params, versions=_count(version))
        self.api.set_alias(values["name"], alias, version)
        return {"name": values["name"], "alias": alias, "version": version}

    def _no_model(self, params: Mapping[str, Any]) -> StateValues:
        return {"name": self._claim(params)}

    def _claim(self, params: Mapping[str, Any]) -> str:
        name = self.unique(params.get("name"))
        with self._lock:
            self.names.add(name)
        return name

    def _delete(self, name: str) -> None:
        try:
            gone = self.api.delete_model(name)
            reason = "MLflow refused the delete"
        except StateSetupError as exc:
            gone, reason = False, str(exc)
        with self._lock:
            if gone:
                self.names.discard(name)
            elif name in self.names:
                self.undeleted.append(f"registered model {name}: {reason}")
                self.names.discard(name)


def _count(value: object) -> int:
    try:
        count = int(str(value))
    except ValueError:
        raise StateSetupError(f"state param {value!r} is not a version count") from None
    if not 1 <= count <= 20:
        raise StateSetupError(f"state param {value!r}: between 1 and 20 versions")
    return count
