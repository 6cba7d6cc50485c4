"""The testbed manifest: what ``python -m testbed up`` started, as JSON others read.

``load_manifest(path)`` gives a typed Manifest; ``live_pods(manifest)`` lists the serving
workers alive right now (children of the manifest's gunicorn master), which is what the chaos
driver may act on, and nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path

import psutil
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from testbed.serving.pods import read_pod_record
from wholefile import write_atomically

MANIFEST_SCHEMA = "testbed.manifest/1"
POD_LABELS = {"app": "model-serving", "model": "churn-classifier", "tier": "serving"}


class ManifestError(Exception):
    """No manifest, or one that cannot be read (the message names the file and field)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class ServiceEntry(_Frozen):
    url: str
    pid: int
    log: str
    create_time: float | None = None


class ServingEntry(ServiceEntry):
    replicas: int
    pods_dir: str = ""
    """Where the workers' pod records live (one ``<pid>.json`` each)."""
    golden_set: str = ""
    """The served model's golden set (inputs → expected answers, harness.golden/1)."""


class Services(_Frozen):
    registry: ServiceEntry
    serving: ServingEntry
    orchestrator: ServiceEntry


class ManifestTokens(_Frozen):
    read: str
    write: str
    admin: str


class Pod(_Frozen):
    name: str
    labels: dict[str, str]
    pid: int
    ready: bool | None = None


class Manifest(_Frozen):
    schema_id: str = Field(alias="schema", default=MANIFEST_SCHEMA)
    state_dir: str
    started_at: str
    services: Services
    tokens: ManifestTokens
    tokens_file: str
    pods: list[Pod] = Field(default_factory=list)
    faults: list[str] = Field(default_factory=list)
    fault_state_path: str
    rate_limit_rps: float | None = None
    complete: bool = True
    """False while ``up`` is still waiting for the services (``down`` works either way)."""

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2) + "\n"


def load_manifest(path: Path) -> Manifest:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ManifestError(f"no testbed manifest at {path} (is the testbed up?)") from None
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the manifest ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ManifestError(f"{path}: field {where!r}: {first['msg']}") from None
    if manifest.schema_id != MANIFEST_SCHEMA:
        raise ManifestError(
            f"{path}: field 'schema' is {manifest.schema_id!r}, expected {MANIFEST_SCHEMA!r}"
        )
    return manifest


def write_manifest(path: Path, manifest: Manifest) -> None:
    """Write atomically (temp file + rename)."""
    write_atomically(path, manifest.to_json(), mode=0o600)  # it holds the tokens


def serving_master(manifest: Manifest) -> psutil.Process | None:
    """The gunicorn master the manifest names, if it still runs (same create time)."""
    entry = manifest.services.serving
    try:
        master = psutil.Process(entry.pid)
        if master.status() == psutil.STATUS_ZOMBIE:
            return None
        if entry.create_time and abs(master.create_time() - entry.create_time) > 0.5:
            return None
        return master
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def live_pods(manifest: Manifest) -> list[Pod]:
    """Serving workers alive now: children of the manifest's master that have a pod record."""
    master = serving_master(manifest)
    if master is None:
        return []
    pods_dir = Path(manifest.services.serving.pods_dir or Path(manifest.state_dir) / "serving/pods")
    pods: list[Pod] = []
    try:
        children = master.children()
    except psutil.NoSuchProcess:
        return []
    for child in children:
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
        except psutil.NoSuchProcess:
            continue
        record = read_pod_record(pods_dir, child.pid)
        if record is None:
            continue  # just forked, or not a worker: not a pod the testbed lists
        pods.append(
            Pod(name=record.name, labels=dict(POD_LABELS), pid=child.pid, ready=record.ready)
        )
    return sorted(pods, key=lambda pod: pod.pid)
