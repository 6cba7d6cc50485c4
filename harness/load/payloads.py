"""Payloads like production: feature rows drawn from a data file (CSV, or Parquet with
``pip install harness[parquet]``) or from per-feature distributions, and batch sizes
from a distribution for batch endpoints. Pure Python (runs inside Locust); the file is
read once, when the locustfile is imported; a draw is O(1) per row.

    rows = Payloads.from_file("loadtests/data/churn-features.csv",
                              batch_sizes={1: 0.7, 8: 0.2, 32: 0.1})
    rows.row()      # one row: [float, ...] in the file's column order
    rows.batch()    # rows.batch_size() rows

    dists = Payloads.from_distributions({
        "tenure": {"normal": [24, 12]}, "plan": {"choice": [0, 1, 2], "weights": [6, 3, 1]},
        "spend": {"lognormal": [3.0, 0.5]}, "score": {"uniform": [-1, 1]},
    })

Distributions: ``normal: [mean, sd]``, ``lognormal: [mu, sigma]`` (of the log),
``uniform: [low, high]``, ``choice: [values]`` with optional ``weights``; optional
``round: N`` digits and ``clip: [low, high]``. Every problem is a PayloadError naming the
file, the line (CSV) and the column or feature.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_ROWS = 1_000_000


class PayloadError(ValueError):
    """A data file or distribution that cannot be drawn from."""


Row = list[float]


@dataclass(frozen=True)
class BatchSizes:
    sizes: tuple[int, ...]
    weights: tuple[float, ...]

    @classmethod
    def parse(cls, spec: Mapping[int | str, float] | int | None, where: str) -> BatchSizes:
        if spec is None:
            return cls((1,), (1.0,))
        if isinstance(spec, int) and not isinstance(spec, bool):
            spec = {spec: 1.0}
        if not isinstance(spec, Mapping) or not spec:
            raise PayloadError(f"{where}: batch_sizes must map sizes to weights")
        sizes, weights = [], []
        for size, weight in spec.items():
            try:
                number = int(size)
            except (TypeError, ValueError):
                raise PayloadError(f"{where}: batch size {size!r} is not an integer") from None
            if number < 1 or not _is_number(weight) or float(weight) < 0:
                raise PayloadError(f"{where}: batch size {size!r}: weight {weight!r} (size >= 1, "
                                   "weight >= 0)")
            sizes.append(number)
            weights.append(float(weight))
        if sum(weights) <= 0:
            raise PayloadError(f"{where}: batch_sizes weights are all 0")
        return cls(tuple(sizes), tuple(weights))


class Payloads:
    """Rows (and batches of rows) to send; ``columns`` names the features in order."""

    def __init__(
        self, draw_row: Callable[[random.Random], Row], columns: Sequence[str],
        batch_sizes: BatchSizes, seed: int | None = None, source: str = "",
    ) -> None:
        self._draw_row = draw_row
        self.columns = tuple(columns)
        self.batch_sizes = batch_sizes
        self.source = source
        self._random = random.Random(seed)

    def row(self) -> Row:
        return self._draw_row(self._random)

    def batch_size(self) -> int:
        sizes = self.batch_sizes
        if len(sizes.sizes) == 1:
            return sizes.sizes[0]
        return self._random.choices(sizes.sizes, sizes.weights)[0]

    def batch(self, size: int | None = None) -> list[Row]:
        return [self.row() for _ in range(self.batch_size() if size is None else size)]

    @classmethod
    def from_file(
        cls, path: str | Path, *, columns: Sequence[str] | None = None,
        batch_sizes: Mapping[int | str, float] | int | None = None, seed: int | None = None,
    ) -> Payloads:
        """Rows of a CSV (header line, numbers) or Parquet file, drawn at random."""
        path = Path(path)
        names, rows = _read_parquet(path) if path.suffix == ".parquet" else _read_csv(path)
        if columns is not None:
            missing = [c for c in columns if c not in names]
            if missing:
                known = ", ".join(names)
                raise PayloadError(f"{path}: no column {missing[0]!r} (columns: {known})")
            index = [names.index(c) for c in columns]
            rows = [[r[i] for i in index] for r in rows]
            names = list(columns)
        if not rows:
            raise PayloadError(f"{path}: no rows")
        sizes = BatchSizes.parse(batch_sizes, str(path))
        return cls(lambda rng: list(rng.choice(rows)), names, sizes, seed, str(path))

    @classmethod
    def from_distributions(
        cls, features: Mapping[str, Mapping[str, Any]], *,
        batch_sizes: Mapping[int | str, float] | int | None = None, seed: int | None = None,
        where: str = "distributions",
    ) -> Payloads:
        """One independent draw per feature, in the mapping's order."""
        if not features:
            raise PayloadError(f"{where}: no features")
        drawers = [_drawer(spec, f"{where}: {name}") for name, spec in features.items()]
        sizes = BatchSizes.parse(batch_sizes, where)
        return cls(lambda rng: [d(rng) for d in drawers], list(features), sizes, seed, where)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _numbers(value: object, count: int, where: str) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) != count or not all(
        _is_number(v) for v in value
    ):
        raise PayloadError(f"{where}: expected {count} numbers, got {value!r}")
    return [float(v) for v in value]


_KINDS = ("normal", "lognormal", "uniform", "choice")


def _drawer(spec: Mapping[str, Any], where: str) -> Callable[[random.Random], float]:
    if not isinstance(spec, Mapping):
        raise PayloadError(f"{where}: expected a mapping such as {{normal: [0, 1]}}")
    kinds = [k for k in _KINDS if k in spec]
    extra = sorted(set(spec) - {*_KINDS, "weights", "round", "clip"})
    if len(kinds) != 1 or extra:
        raise PayloadError(
            f"{where}: give exactly one of {', '.join(_KINDS)} (optional weights, round, clip)"
        )
    base = _base_drawer(kinds[0], spec, where)
    digits = spec.get("round")
    if digits is not None and (not isinstance(digits, int) or isinstance(digits, bool)):
        raise PayloadError(f"{where}: round must be an integer, got {digits!r}")
    low, high = _numbers(spec["clip"], 2, f"{where}: clip") if "clip" in spec else (-math.inf,
                                                                                     math.inf)

    def draw(rng: random.Random) -> float:
        value = min(max(base(rng), low), high)
        return round(value, digits) if digits is not None else value

    return draw


def _base_drawer(
    kind: str, spec: Mapping[str, Any], where: str
) -> Callable[[random.Random], float]:
    if kind == "choice":
        values = spec["choice"]
        if not isinstance(values, list) or not values or not all(_is_number(v) for v in values):
            raise PayloadError(f"{where}: choice must be a non-empty list of numbers")
        weights = _numbers(spec["weights"], len(values), f"{where}: weights") if (
            "weights" in spec) else None
        floats = [float(v) for v in values]
        return lambda rng: rng.choices(floats, weights)[0]
    a, b = _numbers(spec[kind], 2, f"{where}: {kind}")
    if kind == "normal":
        if b < 0:
            raise PayloadError(f"{where}: normal sd must be >= 0")
        return lambda rng: rng.gauss(a, b)
    if kind == "lognormal":
        return lambda rng: rng.lognormvariate(a, b)
    if b < a:
        raise PayloadError(f"{where}: uniform high {b:g} is below low {a:g}")
    return lambda rng: rng.uniform(a, b)


def _read_csv(path: Path) -> tuple[list[str], list[Row]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            names = [n.strip() for n in next(reader, [])]
            if not names or not all(names):
                raise PayloadError(f"{path}:1: expected a header line naming every column")
            rows = []
            for line, raw in enumerate(reader, start=2):
                if not raw:
                    continue
                rows.append(_csv_row(raw, names, f"{path}:{line}"))
                if len(rows) > MAX_ROWS:
                    raise PayloadError(f"{path}: more than {MAX_ROWS} rows")
    except OSError as exc:
        raise PayloadError(f"{path}: cannot read the data file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise PayloadError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return names, rows


def _csv_row(raw: list[str], names: list[str], where: str) -> Row:
    if len(raw) != len(names):
        raise PayloadError(f"{where}: {len(raw)} values for {len(names)} columns")
    row = []
    for name, text in zip(names, raw, strict=True):
        try:
            value = float(text)
        except ValueError:
            raise PayloadError(f"{where}: column {name!r}: {text!r} is not a number") from None
        if not math.isfinite(value):
            raise PayloadError(f"{where}: column {name!r}: {text!r} is not finite")
        row.append(value)
    return row


def _read_parquet(path: Path) -> tuple[list[str], list[Row]]:
    try:
        import pyarrow.parquet as pq  # an extra (harness[parquet]): absent from bin/setup
    except ImportError:
        raise PayloadError(
            f"{path}: reading Parquet needs pyarrow (pip install 'harness[parquet]')"
        ) from None
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise PayloadError(f"{path}: cannot read the Parquet file: {exc}") from None
    if table.num_rows > MAX_ROWS:
        raise PayloadError(f"{path}: more than {MAX_ROWS} rows")
    names = [str(n) for n in table.column_names]
    columns = []
    for name in names:
        values = table.column(name).to_pylist()
        if not all(_is_number(v) for v in values):
            bad = next(i for i, v in enumerate(values) if not _is_number(v))
            raise PayloadError(
                f"{path}: column {name!r}, row {bad}: {values[bad]!r} is not a number"
            )
        columns.append([float(v) for v in values])
    return names, [list(r) for r in zip(*columns, strict=True)]
