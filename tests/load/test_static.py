"""Import isolation, static checks, the command line, the stream reader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.load.command import PLUGIN_PATH, build_argv, explain_exit
from harness.load.spec import LoadStep, RemoteWorkers
from harness.load.stage import STAGE
from harness.load.stream import IntervalStream


def test_importing_the_stage_imports_neither_locust_nor_gevent() -> None:
    code = (
        "import sys, harness.load.stage, harness.load.runner\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _check(tmp_path: Path, source: str | None, **fields: object) -> list[str]:
    if source is not None:
        (tmp_path / "lf.py").write_text(source)
    spec = LoadStep.model_validate({"name": "s", "locustfile": "lf.py", **fields})
    return [str(p) for p in STAGE.check(spec, tmp_path, tmp_path / "suite.yaml")]


USER = "from locust import HttpUser, task\nclass WebUser(HttpUser):\n    pass\n"


@pytest.mark.parametrize(
    ("source", "fields", "expected"),
    [
        (USER, {}, []),
        (USER, {"user_classes": ["WebUser"]}, []),
        (None, {}, ["does not exist"]),
        ("class Broken(:\n", {}, ["lf.py:1", "syntax error"]),
        (USER, {"user_classes": ["Nope"]}, ["Nope not defined", "WebUser"]),
        ("x = 1\n", {}, ["no class that looks like a Locust user"]),
        (USER, {"criteria": ["unsent < 10"]}, ["needs an open model"]),
        (USER, {"criteria": ['completion_rate{name="x"} > 90%']}, ["no name selector"]),
    ],
)
def test_check_reports_problems_without_importing_the_file(
    tmp_path: Path, source: str | None, fields: dict[str, object], expected: list[str]
) -> None:
    problems = _check(tmp_path, source, **fields)
    if not expected:
        assert problems == []
        return
    assert len(problems) == 1, problems
    for fragment in expected:
        assert fragment in problems[0]


def test_check_of_the_shipped_scenarios(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    for path, cls in [
        ("loadtests/inference.py", "InferenceUser"),
        ("loadtests/inference_open.py", "PredictArrivals"),
        ("loadtests/registry.py", "RegistryUser"),
        ("loadtests/pipeline_execution.py", "PipelineUser"),
    ]:
        spec = LoadStep.model_validate(
            {"name": "s", "locustfile": path, "user_classes": [cls]}
        )
        assert STAGE.check(spec, root, root / "suites" / "x.yaml") == []


def test_argv_local_processes_and_remote_workers(tmp_path: Path) -> None:
    spec = LoadStep.model_validate(
        {"name": "s", "locustfile": "lf.py", "users": 5, "duration": "90s", "processes": 2,
         "user_classes": ["A"]}
    )
    argv = build_argv(spec, tmp_path / "lf.py", "http://h:1", tmp_path / "locust")
    assert argv[1:3] == ["-f", f"{tmp_path / 'lf.py'},{PLUGIN_PATH}"]
    for flag, value in [("-u", "5"), ("-t", "90s"), ("--processes", "2"), ("-H", "http://h:1"),
                        ("--exit-code-on-error", "3"), ("--json-file", str(tmp_path / "locust"))]:
        assert argv[argv.index(flag) + 1] == value
    assert "--headless" in argv and "--only-summary" in argv and argv[-1] == "A"
    remote = spec.model_copy(update={"workers": RemoteWorkers(expect=3, bind_port=5600)})
    argv = build_argv(remote, tmp_path / "lf.py", "http://h:1", tmp_path / "locust")
    assert "--processes" not in argv and "--master" in argv
    assert argv[argv.index("--expect-workers") + 1] == "3"
    assert argv[argv.index("--master-bind-port") + 1] == "5600"


@pytest.mark.parametrize(
    ("stderr", "fragment"),
    [
        ("Could not find 'nope.py'. Ensure your locustfile ends with '.py'",
         "locustfile not found"),
        ("Unknown User(s): Ghost\n", "unknown user class: Unknown User(s): Ghost"),
        ('  File "/x/lf.py", line 3\n    def (\nSyntaxError: invalid syntax\n',
         "syntax error in the locustfile (/x/lf.py:3)"),
        ("ModuleNotFoundError: No module named 'nothere'", "import error"),
        ("locust: error: unrecognized arguments: --bogus", "bad locust option"),
        ("something odd\n", "locust exited with code 1: something odd"),
    ],
)
def test_explain_exit(stderr: str, fragment: str) -> None:
    assert fragment in explain_exit(1, stderr)


def test_stream_reads_only_complete_lines_and_flags_garbage(tmp_path: Path) -> None:
    path = tmp_path / "i.jsonl"
    stream = IntervalStream(path)
    assert stream.read_new() == []  # not there yet
    path.write_text('{"type":"start"}\n{"type":"interval","second":5,"endpo')
    assert [line.kind for line in stream.read_new()] == ["start"]
    with path.open("a") as out:
        out.write('ints":{}}\nnot json\n')
    lines = stream.read_new()
    assert [line.kind for line in lines] == ["interval"] and lines[0].interval is not None
    assert lines[0].interval.second == 5
    assert stream.started and len(stream.errors) == 1
