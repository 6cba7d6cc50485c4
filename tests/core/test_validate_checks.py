"""``harness validate`` catches, without a target, what used to fail only at run time after
the testbed was up (finding 7 of issue 11): a user class that is not a Locust User, a
locustfile that fails to import, an unbounded duration, an infinite spawn rate, thousands
of concurrent steps in one stage."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.core.conftest import write_suite
from tests.core.test_cli_commands import harness

LOAD_SUITE = """
name: checks
target: {{kind: external, external: {{serving_url: "http://127.0.0.1:9"}}}}
stages:
  - name: only
    steps:
      - name: load
        kind: load
        locustfile: {locustfile}
        user_classes: [{user_class}]
        duration: {duration}
        spawn_rate: {spawn_rate}
        criteria: ["requests >= 1"]
"""


def load_suite(tmp_path: Path, locustfile: str = "loadtests/inference.py",
               user_class: str = "InferenceUser", duration: str = "5s",
               spawn_rate: str = "5") -> Path:
    return write_suite(tmp_path, LOAD_SUITE.format(
        locustfile=locustfile, user_class=user_class, duration=duration, spawn_rate=spawn_rate))


def locustfile(tmp_path: Path, text: str) -> str:
    path = tmp_path / "users.py"
    path.write_text(text)
    return str(path)


def assert_invalid(suite: Path, *expected: str) -> str:
    result = harness(["validate", str(suite)])
    assert result.returncode == 2, result.stdout + result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return result.stderr


def test_a_user_class_that_is_not_a_locust_user(tmp_path: Path) -> None:
    path = locustfile(tmp_path, "from locust import HttpUser\n\nclass Helper:\n    pass\n")
    assert_invalid(load_suite(tmp_path, path, "Helper"),
                   f"{tmp_path / 'suite.yaml'}:10: stages[0].steps[0].user_classes: step 'load': "
                   f"Helper in "
                   f"{path} is a class, not a Locust User (Users there: none)")


def test_a_locustfile_that_fails_to_import(tmp_path: Path) -> None:
    path = locustfile(tmp_path, "from locust import HttpUser\nimport no_such_module_here\n\n"
                                "class ApiUser(HttpUser):\n    pass\n")
    assert_invalid(load_suite(tmp_path, path, "ApiUser"),
                   f"{path}:2: locustfile: step 'load': locustfile {path} fails to import: "
                   "ModuleNotFoundError: No module named 'no_such_module_here'")


def test_a_locustfile_that_hangs_on_import_hits_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.load import inspection

    path = Path(locustfile(tmp_path, "import time\ntime.sleep(60)\nclass ApiUser: pass\n"))
    started = time.monotonic()
    found = inspection.probe_locustfile(path, ["ApiUser"], tmp_path, timeout_s=2.0)
    assert found == (f"importing locustfile {path} took longer than 2 s", None)
    assert time.monotonic() - started < 10


def _helper_module(folder: Path, value: str) -> None:
    folder.mkdir()
    (folder / "shared_helper.py").write_text(f"VALUE = {value!r}\n")


def test_a_suites_locustfiles_are_imported_in_one_child_each_on_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One child for the whole batch; a sibling module of one locustfile is not the other's
    (same name, other folder), and a failing file does not hide the others' answers."""
    from harness.load import inspection

    fine, other = tmp_path / "a", tmp_path / "b"
    _helper_module(fine, "a")
    _helper_module(other, "b")
    users = "from locust import HttpUser\nfrom shared_helper import VALUE\n"
    (fine / "users.py").write_text(users + "assert VALUE == 'a'\nclass AUser(HttpUser):\n pass\n")
    (other / "users.py").write_text(users + "assert VALUE == 'b'\nclass BUser(HttpUser):\n pass\n")
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_here\n")
    children: list[object] = []
    real = inspection.run_blocking
    monkeypatch.setattr(
        inspection, "run_blocking", lambda *a, **k: children.append(a) or real(*a, **k)
    )
    items = [(fine / "users.py", ["AUser"]), (broken, []), (other / "users.py", ["BUser"])]
    inspection.probe_locustfiles(items, tmp_path)
    assert len(children) == 1
    found = [inspection.probe_locustfile(p, w, tmp_path) for p, w in items]
    assert len(children) == 1  # answered from the batch
    assert found[0] is None and found[2] is None
    assert found[1] == (f"locustfile {broken} fails to import: ModuleNotFoundError: "
                        "No module named 'no_such_module_here'", 1)


def test_a_hang_in_a_batch_is_named_and_the_rest_still_judged(tmp_path: Path) -> None:
    from harness.load import inspection

    fine = tmp_path / "fine.py"
    fine.write_text("from locust import HttpUser\nclass AUser(HttpUser):\n pass\n")
    hangs = tmp_path / "hangs.py"
    hangs.write_text("import time\ntime.sleep(60)\n")
    late = tmp_path / "late.py"
    late.write_text("class NotAUser: pass\n")
    items = [(fine, ["AUser"]), (hangs, []), (late, ["NotAUser"])]
    inspection.probe_locustfiles(items, tmp_path, timeout_s=6.0)
    found = [inspection.probe_locustfile(p, w, tmp_path, timeout_s=6.0) for p, w in items]
    assert found[0] is None
    assert found[1] == (f"importing locustfile {hangs} took longer than 6 s", None)
    assert found[2] is not None and "NotAUser in" in found[2][0]
    assert "not a Locust User" in found[2][0]


@pytest.mark.parametrize(("duration", "spawn_rate", "expected"), [
    ("99999999999999999999h", "5", "duration: a duration must be at most 7 days"),
    ("9" * 400 + "s", "5", "duration: a duration must be at most 7 days"),
    ("5s", ".inf", "spawn_rate: Input should be a finite number"),
    ("5s", "1e300", "spawn_rate: Input should be less than or equal to 100000"),
])
def test_durations_and_rates_are_finite_and_bounded(
    tmp_path: Path, duration: str, spawn_rate: str, expected: str
) -> None:
    assert_invalid(load_suite(tmp_path, duration=duration, spawn_rate=spawn_rate), expected)


def test_thousands_of_concurrent_steps_in_one_stage_are_refused(tmp_path: Path) -> None:
    steps = "".join(
        f"      - {{name: s{i}, kind: fake, metrics: {{rps: 5}}, criteria: ['rps > 1']}}\n"
        for i in range(5000)
    )
    suite = write_suite(tmp_path, "name: many\ntarget: {kind: external}\nstages:\n"
                                  "  - name: wide\n    steps:\n" + steps)
    assert_invalid(suite, f"{suite}:5: stages[0].steps: a stage runs its steps concurrently: "
                          "at most 32 steps per stage, got 5000; split them into stages")
