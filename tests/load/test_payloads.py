"""Payloads like production, without Locust: rows from CSV and Parquet files, per-feature
distributions, batch sizes; bad files and specs named with file, line and column."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest

from harness.load.payloads import PayloadError, Payloads

ROOT = Path(__file__).resolve().parents[2]


def csv_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text(text)
    return path


def test_rows_come_from_the_file_in_the_asked_column_order(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "a,b,c\n1,2,3\n4,5,6\n\n")
    payloads = Payloads.from_file(path, columns=["c", "a"], seed=3)
    drawn = {tuple(payloads.row()) for _ in range(200)}
    assert drawn == {(3.0, 1.0), (6.0, 4.0)}
    assert payloads.columns == ("c", "a")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("a,b\n1,2\n3\n", ":3: 1 values for 2 columns"),
        ("a,b\n1,x\n", ":2: column 'b': 'x' is not a number"),
        ("a,b\n1,nan\n", ":2: column 'b': 'nan' is not finite"),
        ("a,,c\n1,2,3\n", ":1: expected a header line"),
        ("a,b\n", ": no rows"),
    ],
)
def test_bad_csv_files_name_file_line_and_column(tmp_path: Path, text: str, names: str) -> None:
    path = csv_file(tmp_path, text)
    with pytest.raises(PayloadError, match=re.escape(f"{path}{names}")):
        Payloads.from_file(path)


def test_a_missing_column_lists_the_ones_there(tmp_path: Path) -> None:
    with pytest.raises(PayloadError, match=r"no column 'z' \(columns: a, b\)"):
        Payloads.from_file(csv_file(tmp_path, "a,b\n1,2\n"), columns=["z"])


def test_parquet_rows(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"x": [1.5, 2.5], "n": [1, 2]}), path)
    payloads = Payloads.from_file(path, seed=1)
    assert {tuple(payloads.row()) for _ in range(100)} == {(1.5, 1.0), (2.5, 2.0)}
    pq.write_table(pa.table({"x": [1.5, None]}), path)
    with pytest.raises(PayloadError, match="column 'x', row 1: None is not a number"):
        Payloads.from_file(path)


def test_distributions_draw_what_they_say() -> None:
    payloads = Payloads.from_distributions({
        "n": {"normal": [10, 2]},
        "u": {"uniform": [-1, 1], "round": 2},
        "c": {"choice": [0, 1, 2], "weights": [8, 1, 1]},
        "l": {"lognormal": [0, 0.5], "clip": [0, 2]},
    }, seed=7)
    rows = [payloads.row() for _ in range(4000)]
    n, u, c, lg = zip(*rows, strict=True)
    assert abs(statistics.mean(n) - 10) < 0.2 and abs(statistics.stdev(n) - 2) < 0.2
    assert min(u) >= -1 and max(u) <= 1 and all(v == round(v, 2) for v in u)
    assert 0.75 < c.count(0.0) / len(c) < 0.85 and set(c) == {0.0, 1.0, 2.0}
    assert max(lg) <= 2.0


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ({"x": {"normal": [0]}}, "x: normal: expected 2 numbers"),
        ({"x": {"normal": [0, 1], "uniform": [0, 1]}}, "x: give exactly one of"),
        ({"x": {"gamma": [1, 1]}}, "x: give exactly one of"),
        ({"x": {"uniform": [2, 1]}}, "x: uniform high 1 is below low 2"),
        ({"x": {"choice": []}}, "x: choice must be a non-empty list"),
        ({"x": {"choice": [1, 2], "weights": [1]}}, "x: weights: expected 2 numbers"),
        ({}, "no features"),
    ],
)
def test_bad_distributions_name_the_feature(spec: dict[str, object], names: str) -> None:
    with pytest.raises(PayloadError, match=re.escape(names)):
        Payloads.from_distributions(spec)  # type: ignore[arg-type]


def test_batch_sizes_follow_their_distribution() -> None:
    payloads = Payloads.from_distributions(
        {"x": {"uniform": [0, 1]}}, batch_sizes={1: 0.7, "8": 0.2, 32: 0.1}, seed=5
    )
    sizes = [len(payloads.batch()) for _ in range(3000)]
    assert set(sizes) == {1, 8, 32}
    assert 0.65 < sizes.count(1) / len(sizes) < 0.75
    assert len(payloads.batch(4)) == 4
    with pytest.raises(PayloadError, match="batch size 'x' is not an integer"):
        Payloads.from_distributions({"x": {"uniform": [0, 1]}}, batch_sizes={"x": 1})


def test_the_testbed_scenario_data_file_fits_the_model() -> None:
    payloads = Payloads.from_file(ROOT / "loadtests/data/churn-features.csv")
    assert payloads.columns == tuple(f"f{i}" for i in range(8))
    assert len(payloads.row()) == 8
