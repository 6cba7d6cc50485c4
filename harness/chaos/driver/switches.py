"""Faults switched on through the testbed's admin endpoints.

- Serving latency: ``latency`` on serving's ``/admin/faults``. The testbed applies it in
  the request path of every replica, like a service-mesh fault filter (Envoy/Istio fault
  injection); it is the local stand-in for Chaos Mesh ``NetworkChaos`` delay (netem), which
  delays packets in the kernel instead. Same effect for a client; no kernel qdisc involved.
- Database connection loss: ``db-down`` on the registry's ``/admin/faults`` (every query
  fails as if the connection to the database were lost).

Other switches already on (e.g. ``fragile`` set at ``up``) are kept: we add ours and remove
only ours.
"""

from __future__ import annotations

import httpx

from harness.chaos.allowlist import check_local_selector
from harness.chaos.driver.own import revert_own
from harness.chaos.driver.testbed import (
    FaultError,
    current_manifest,
    fault_injected,
    manifest_path,
)
from harness.chaos.ledger import new_record, write_record
from harness.units import parse_latency_ms

HTTP_TIMEOUT_S = 5.0


def _switch_on(url: str, token: str, spec: str, *, spec_body: bool) -> list[str]:
    endpoint = url.rstrip("/") + "/admin/faults"
    headers = {"Authorization": f"Bearer {token}"}
    name = spec.split(":", 1)[0]
    with httpx.Client(timeout=HTTP_TIMEOUT_S, headers=headers) as client:
        current = client.get(endpoint)
        current.raise_for_status()
        body = current.json()
        faults = [s for s in body.get("faults", []) if s.split(":", 1)[0] != name] + [spec]
        put: dict[str, object] = {"faults": faults}
        if spec_body:
            put["rate_limit_rps"] = body.get("rate_limit_rps")
        answer = client.put(endpoint, json=put)
        if answer.status_code != 200:
            raise FaultError(f"PUT {endpoint} answered {answer.status_code}: {answer.text[:200]}")
        active: list[str] = answer.json().get("faults", [])
    if not any(s.split(":", 1)[0] == name for s in active):
        raise FaultError(f"{endpoint}: fault {name!r} is not on after PUT (active: {active})")
    return active


def add_latency(
    name: str = "serving-latency",
    ns: str = "default",
    label_selectors: str = "app=model-serving",
    latency: str = "150ms",
    jitter: str = "0ms",
) -> list[str]:
    """Delay every answer of the serving pods by ``latency`` (± ``jitter``, uniform).

    Mirrors ``chaosk8s.chaosmesh.network.actions.add_latency``. Reverted by
    :func:`delete_network_fault`.
    """
    if ns != "default":
        raise FaultError(f"namespace {ns!r}: the local testbed has only 'default'")
    check_local_selector(label_selectors)
    delay_ms, jitter_ms = parse_latency_ms(latency), parse_latency_ms(jitter)
    if jitter_ms > 0:
        low = max(0.0, delay_ms - jitter_ms)
        spec = f"latency:dist=uniform,min_ms={low:g},max_ms={delay_ms + jitter_ms:g}"
    else:
        spec = f"latency:dist=fixed,ms={delay_ms:g}"
    manifest = current_manifest()
    serving = manifest.services.serving
    record = new_record(
        "serving-fault",
        f"{name} on {serving.url}",
        url=serving.url,
        fault_names=("latency",),
        fault_state_path=manifest.fault_state_path,
        manifest_path=str(manifest_path()),
    )
    write_record(record)
    active = _switch_on(serving.url, manifest.tokens.admin, spec, spec_body=True)
    fault_injected("latency", record.target, record.id)
    return active


def delete_network_fault(name: str = "serving-latency", ns: str = "default") -> list[str]:
    """Switch off the latency this run switched on (idempotent)."""
    return revert_own("serving-fault")


def cut_database() -> list[str]:
    """Cut the registry's database connection (registry fault ``db-down``)."""
    manifest = current_manifest()
    registry = manifest.services.registry
    record = new_record(
        "registry-fault",
        f"db-down on {registry.url}",
        url=registry.url,
        fault_names=("db-down",),
        manifest_path=str(manifest_path()),
    )
    write_record(record)
    active = _switch_on(registry.url, manifest.tokens.admin, "db-down", spec_body=False)
    fault_injected("db-down", record.target, record.id)
    return active


def restore_database() -> list[str]:
    """Give the registry its database connection back (idempotent)."""
    return revert_own("registry-fault")
