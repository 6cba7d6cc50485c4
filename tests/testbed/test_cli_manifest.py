"""testbed.manifest: reading what `up` wrote, and refusing what it did not."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from testbed.manifest import (
    Manifest,
    ManifestError,
    ManifestTokens,
    ServiceEntry,
    Services,
    ServingEntry,
    live_pods,
    load_manifest,
    write_manifest,
)


def _manifest(tmp_path: Path, serving_pid: int = 999_999) -> Manifest:
    entry = ServiceEntry(url="http://127.0.0.1:1", pid=999_998, log=str(tmp_path / "x.log"))
    return Manifest(
        state_dir=str(tmp_path),
        started_at="2026-01-01T00:00:00+00:00",
        services=Services(
            registry=entry,
            serving=ServingEntry(**{**entry.model_dump(), "pid": serving_pid}, replicas=2),
            orchestrator=entry,
        ),
        tokens=ManifestTokens(read="r", write="w", admin="a"),
        tokens_file=str(tmp_path / "tokens.json"),
        fault_state_path=str(tmp_path / "faults.json"),
    )


def test_round_trip_keeps_the_public_keys(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    write_manifest(path, _manifest(tmp_path))
    data = json.loads(path.read_text())
    assert data["schema"] == "testbed.manifest/1"
    assert set(data) >= {
        "schema", "state_dir", "started_at", "services", "tokens", "tokens_file", "pods",
        "faults", "fault_state_path",
    }  # fmt: skip
    assert set(data["services"]["serving"]) >= {"url", "pid", "log", "replicas"}
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # it holds the tokens
    assert load_manifest(path) == _manifest(tmp_path)


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ('{\n  "schema": ', ":2: not valid JSON"),
        ('{"schema": "testbed.manifest/1"}', "field 'state_dir'"),
        ('{"schema": "other/9"}', "field 'state_dir'"),
    ],
)
def test_bad_manifests_are_refused_naming_file_and_field(
    tmp_path: Path, content: str, names: str
) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(content)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert str(path) in str(caught.value) and names in str(caught.value)


def test_wrong_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    data = json.loads(_manifest(tmp_path).to_json())
    data["schema"] = "testbed.manifest/99"
    path.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="field 'schema'"):
        load_manifest(path)


def test_missing_manifest_says_so(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no testbed manifest"):
        load_manifest(tmp_path / "absent.json")


def test_no_live_pods_when_the_master_is_gone(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert live_pods(_manifest(tmp_path, serving_pid=gone.pid)) == []
