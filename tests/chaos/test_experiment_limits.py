"""Experiment and pact files get the suite loader's limits (finding 5 of issue 11): an alias
bomb is refused within 2 s and 200 MB, deep nesting / bad encoding / duplicate keys /
list-typed state params are file:line errors, never RecursionError, UnicodeDecodeError or
TypeError."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.chaos.experiment import ExperimentError, load_experiment
from harness.contract.pactfile import PactFileError, read_pact
from tests.core.conftest import PROJECT_ROOT

# 476 bytes: nine levels of nine aliases each expand to 9**9 (387 million) strings.
ALIAS_BOMB = "title: bomb\nmethod: []\n" + "\n".join(
    [f"a0: &a0 [{', '.join(['x'] * 9)}]"]
    + [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
) + "\n"

MEASURE = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from harness.chaos.experiment import ExperimentError, load_experiment
    started = time.perf_counter()
    try:
        load_experiment(Path(sys.argv[1]))
        outcome = "loaded"
    except ExperimentError as exc:
        outcome = str(exc)
    elapsed_s = time.perf_counter() - started
    # VmHWM: the peak RSS of this process image. (getrusage's ru_maxrss survives exec and
    # so reports the forking pytest's size, not what loading the experiment cost.)
    status = Path("/proc/self/status").read_text()
    rss_mb = int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1]) / 1024
    print(json.dumps({"outcome": outcome, "elapsed_s": elapsed_s, "rss_mb": rss_mb}))
""")


def test_alias_bomb_is_refused_within_2_s_and_200_mb(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    assert len(ALIAS_BOMB) < 600
    # A child process, with an address-space cap of 1 GB so that today's loader fails the
    # test (MemoryError) instead of exhausting the machine; the figure judged is max RSS.
    child = subprocess.run(
        [sys.executable, "-c",
         "import resource; resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30));"
         f"exec({MEASURE!r})", str(path)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    measured = json.loads(child.stdout)
    assert "too large" in measured["outcome"] and f"{path}:" in measured["outcome"], measured
    assert measured["elapsed_s"] < 2.0, measured
    assert measured["rss_mb"] < 200, measured


def expect_error(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ExperimentError) as caught:
        load_experiment(path)
    return str(caught.value)


def test_deep_nesting_is_a_file_line_error(tmp_path: Path) -> None:
    deep = b"title: deep\nmethod: []\nx: " + b"[" * 300 + b"]" * 300 + b"\n"
    message = expect_error(tmp_path, "deep.yaml", deep)
    assert message.startswith(f"{tmp_path / 'deep.yaml'}:3: yaml: YAML nested deeper"), message
    deeper = b"title: deep\nmethod: []\nx: " + b"[" * 5000 + b"]" * 5000 + b"\n"
    message = expect_error(tmp_path, "deeper.yaml", deeper)
    assert message.startswith(str(tmp_path / "deeper.yaml")) and "nested" in message
    deep_json = b'{"title": "deep", "method": [], "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert "nested deeper" in expect_error(tmp_path, "deep.json", deep_json)


def test_non_utf8_experiment_is_a_file_line_error(tmp_path: Path) -> None:
    message = expect_error(tmp_path, "latin.yaml", b"title: ok\nmethod: []\nd: caf\xe9\n")
    assert message.startswith(f"{tmp_path / 'latin.yaml'}:3: file: not UTF-8"), message
    assert "not UTF-8" in expect_error(tmp_path, "latin.json", b'{"title": "caf\xe9"}')


def test_duplicate_keys_in_an_experiment_are_refused(tmp_path: Path) -> None:
    text = b"title: one\nmethod: []\ntitle: two\n"
    message = expect_error(tmp_path, "dup.yaml", text)
    assert message == f"{tmp_path / 'dup.yaml'}:3: title: duplicate key"
    dup_json = b'{"title": "one", "method": [], "title": "two"}'
    assert "duplicate key 'title'" in expect_error(tmp_path, "dup.json", dup_json)


def test_oversized_experiment_is_refused(tmp_path: Path) -> None:
    big = b"title: big\nmethod: []\n" + b"# padding\n" * 200_000
    assert "larger than" in expect_error(tmp_path, "big.yaml", big)


def test_project_experiments_still_load() -> None:
    for path in sorted((PROJECT_ROOT / "chaos").rglob("*.yaml")):
        assert load_experiment(path).data["title"], path


def pact(tmp_path: Path, interaction: object) -> Path:
    path = tmp_path / "pact.json"
    path.write_text(json.dumps({
        "consumer": {"name": "c"}, "provider": {"name": "p"}, "interactions": [interaction]}))
    return path


def test_list_typed_provider_state_params_are_a_clear_error(tmp_path: Path) -> None:
    path = pact(tmp_path, {"description": "d",
                           "providerStates": [{"name": "a model exists", "params": [1, 2]}]})
    with pytest.raises(PactFileError) as caught:
        read_pact(path)
    assert str(caught.value) == (
        f"{path}: interactions[0].providerStates[0].params: must be an object of name: value,"
        " got list")


@pytest.mark.parametrize(("label", "content", "expected"), [
    ("deep", b'{"consumer": ' + b"[" * 3000 + b"]" * 3000 + b"}", "nested deeper"),
    ("not UTF-8", b'{"consumer": {"name": "caf\xe9"}}', ":1: file: not UTF-8"),
    ("duplicate key", b'{"consumer": {"name": "a"}, "consumer": {"name": "b"}}',
     "duplicate key 'consumer'"),
    ("bad JSON", b'{\n"consumer": }', ":2: json: not valid JSON"),
])
def test_bad_pact_files_are_file_errors(
    tmp_path: Path, label: str, content: bytes, expected: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(PactFileError) as caught:
        read_pact(path)
    assert str(caught.value).startswith(str(path)) and expected in str(caught.value), label
