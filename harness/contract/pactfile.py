"""Pact files as typed values: which interactions a provider owes which consumers.

The harness counts the interactions itself (the verifier "passes" when it verified
nothing: wrong provider name, empty directory, a consumer filter matching nothing),
and it decides from the pact which token each interaction needs:

- a request ``Authorization`` header under a matching rule (``match.regex``) means
  "a valid bearer token"; its example value names the scope (``Bearer read-token``,
  ``Bearer write-token``, ``Bearer admin-token``; anything else means write);
- a literal ``Authorization`` header (``Bearer bad-token``) or none at all is sent as
  written in the pact, so 401/403 interactions stay meaningful.

Nothing here imports pact: the orchestrator reads pact JSON as plain data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
MAX_PACT_BYTES = 16 * 1024 * 1024


class PactFileError(ValueError):
    """A pact file that cannot be read or is not pact JSON; the message names the file."""


@dataclass(frozen=True)
class ProviderState:
    name: str
    params: Mapping[str, Any]

    def label(self) -> str:
        if not self.params:
            return self.name
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
        return f"{self.name} ({args})"


@dataclass(frozen=True)
class Interaction:
    consumer: str
    provider: str
    description: str
    states: tuple[ProviderState, ...]
    scope: Scope | None  # the token the request needs; None: send the request as written
    source: Path | None = None

    @property
    def key(self) -> tuple[str, str]:
        """Identity used to pair verifier results with expected interactions."""
        return (self.consumer, self.description)

    def criterion_name(self) -> str:
        given = "; ".join(state.label() for state in self.states)
        suffix = f" [given {given}]" if given else ""
        return f"{self.consumer}: {self.description}{suffix}"


@dataclass(frozen=True)
class PactFile:
    path: Path
    consumer: str
    provider: str
    interactions: tuple[Interaction, ...]


def read_pact(path: Path) -> PactFile:
    """Parse one pact file (spec V2 to V4, HTTP interactions)."""
    from harness.config.json_source import read_json  # harness.config imports the stages

    raw, problems = read_json(path, max_bytes=MAX_PACT_BYTES)
    if problems:
        raise PactFileError("; ".join(str(problem) for problem in problems))
    return parse_pact(raw, path)


def parse_pact(raw: object, path: Path) -> PactFile:
    if not isinstance(raw, dict):
        raise PactFileError(f"{path}: not a pact (expected a JSON object)")
    consumer = _name_of(raw.get("consumer"), "consumer", path)
    provider = _name_of(raw.get("provider"), "provider", path)
    items = raw.get("interactions")
    if not isinstance(items, list):
        raise PactFileError(f"{path}: not a pact: 'interactions' must be a list")
    interactions = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("description"), str):
            raise PactFileError(f"{path}: interactions[{index}]: needs a 'description' string")
        interactions.append(
            Interaction(
                consumer=consumer,
                provider=provider,
                description=item["description"],
                states=_states_of(item, f"{path}: interactions[{index}]"),
                scope=_scope_of(item.get("request")),
                source=path,
            )
        )
    return PactFile(path, consumer, provider, tuple(interactions))


def _name_of(value: object, role: str, path: Path) -> str:
    if isinstance(value, dict) and isinstance(value.get("name"), str) and value["name"]:
        return str(value["name"])
    raise PactFileError(f"{path}: not a pact: '{role}.name' is missing")


def _states_of(item: Mapping[str, Any], where: str) -> tuple[ProviderState, ...]:
    states = item.get("providerStates")
    if isinstance(states, list):
        found = []
        for index, state in enumerate(states):
            if not isinstance(state, dict):
                continue
            params = state.get("params") or {}
            if not isinstance(params, dict):
                raise PactFileError(
                    f"{where}.providerStates[{index}].params: must be an object of"
                    f" name: value, got {type(params).__name__}"
                )
            found.append(ProviderState(str(state.get("name", "")), dict(params)))
        return tuple(found)
    legacy = item.get("providerState") or item.get("provider_state")
    return (ProviderState(legacy, {}),) if isinstance(legacy, str) and legacy else ()


def _scope_of(request: object) -> Scope | None:
    if not isinstance(request, dict):
        return None
    headers = request.get("headers") or {}
    value: object = None
    for name, header in headers.items() if isinstance(headers, dict) else ():
        if name.lower() == "authorization":
            value = header[0] if isinstance(header, list) and header else header
    if value is None or not _has_header_rule(request, "authorization"):
        return None
    example = str(value).lower()
    for scope in SCOPES:
        if f"{scope}-token" in example:
            return scope
    return "write"


def _has_header_rule(request: Mapping[str, Any], header: str) -> bool:
    rules = request.get("matchingRules")
    if not isinstance(rules, dict):
        return False
    by_header = rules.get("header")
    if isinstance(by_header, dict) and any(k.lower() == header for k in by_header):
        return True
    # Pact V2 spelling: "$.headers.Authorization"
    return any(k.lower() == f"$.headers.{header}" for k in rules)


def find_pact_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.json") if p.is_file())


@dataclass(frozen=True)
class PactSelection:
    """The pacts of one provider (and the named consumers), and what they hold."""

    files: tuple[PactFile, ...]

    @property
    def interactions(self) -> tuple[Interaction, ...]:
        return tuple(i for f in self.files for i in f.interactions)

    @property
    def consumers(self) -> tuple[str, ...]:
        return tuple(sorted({f.consumer for f in self.files}))


def select_pacts(directory: Path, provider: str, consumers: Iterable[str] = ()) -> PactSelection:
    """Pact files in ``directory`` for ``provider`` (and only ``consumers`` when given).

    Raises PactFileError for every way of selecting nothing: a missing or empty
    directory, a provider no pact names, a consumer filter matching no pact, or
    pacts that hold no interaction.
    """
    wanted = list(consumers)
    if not directory.is_dir():
        raise PactFileError(f"{directory}: pact directory does not exist")
    paths = find_pact_files(directory)
    if not paths:
        raise PactFileError(f"{directory}: no pact files (*.json) in the pact directory")
    pacts = [read_pact(path) for path in paths]
    mine = [p for p in pacts if p.provider == provider]
    if not mine:
        known = sorted({p.provider for p in pacts})
        raise PactFileError(
            f"{directory}: no pact names provider {provider!r} (providers: {', '.join(known)})"
        )
    if wanted:
        unknown = [c for c in wanted if c not in {p.consumer for p in mine}]
        if unknown:
            have = sorted({p.consumer for p in mine})
            raise PactFileError(
                f"{directory}: consumer filter {unknown} matches no pact with provider "
                f"{provider!r} (consumers: {', '.join(have)})"
            )
        mine = [p for p in mine if p.consumer in wanted]
    selection = PactSelection(tuple(mine))
    if not selection.interactions:
        raise PactFileError(f"{directory}: the pacts for provider {provider!r} hold no interaction")
    keys = [i.key for i in selection.interactions]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise PactFileError(
            f"{directory}: interactions described twice for one consumer: {duplicates}"
        )
    return selection
