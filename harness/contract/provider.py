"""The provider a contract step verifies, as the stage sees it: its service (URL and
headers) on the target, and where its provider states come from."""

from __future__ import annotations

from harness.contract.spec import ContractStep, StatesFromModule, StatesFromUrl
from harness.contract.state_sources import StateSource
from harness.target import Service, Target


class NoSuchService(LookupError):
    """The step names a service the target does not have."""


def provider_service(spec: ContractStep, target: Target) -> Service:
    try:
        return target.service(spec.target_service)
    except KeyError:
        known = ", ".join(sorted(target.all_services())) or "none"
        raise NoSuchService(
            f"the target has no service {spec.target_service!r} (services: {known})"
        ) from None


def state_source(spec: ContractStep, service: Service) -> StateSource | None:
    """The states of ``spec`` resolved against the provider's service."""
    kind = spec.state_source_kind
    if kind is None:
        return None
    if isinstance(spec.states, StatesFromModule):
        return StateSource("module", target=spec.states.module)
    if isinstance(spec.states, StatesFromUrl):
        return StateSource("url", target=spec.states.url)
    return StateSource(kind, base_url=service.url)
