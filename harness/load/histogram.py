"""HDR histograms of response times: microsecond units, 1 µs to 1 h, three
significant digits (a value is read back within 0.1 %), fixed memory.

Shared by the Locust plugin (records, encodes) and the orchestrator (decodes,
merges, reads percentiles). Imports hdrh only — never locust.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterable, Sequence

import numpy as np
from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3


def new_histogram() -> HdrHistogram:
    return _unlinked(HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS))


def _unlinked(histogram: HdrHistogram) -> HdrHistogram:
    """hdrh's histogram and its encoder point at each other: a reference cycle that
    only the cyclic GC frees, so 180 KB count arrays pile up between collections
    (RSS grew with run length). The encoder's link back is made weak: a histogram
    is freed as soon as it is no longer used."""
    encoder = getattr(histogram, "encoder", None)
    if encoder is not None and getattr(encoder, "histogram", None) is histogram:
        encoder.histogram = weakref.proxy(histogram)
    return histogram


def record_ms(histogram: HdrHistogram, latency_ms: float) -> None:
    """Record one latency given in milliseconds (clamped into the trackable range)."""
    value_us = round(latency_ms * 1000.0)
    histogram.record_value(min(max(value_us, LOWEST_US), HIGHEST_US))


def record_many_ms(histogram: HdrHistogram, latencies_ms: Sequence[float]) -> None:
    """Record many latencies (ms) at once: the same counts as ``record_ms`` one by one,
    computed with numpy (hdrh's per-value path costs about 3 µs a value)."""
    if not latencies_ms:
        return
    values = np.rint(np.asarray(latencies_ms, dtype=np.float64) * 1000.0).astype(np.int64)
    np.clip(values, LOWEST_US, HIGHEST_US, out=values)
    # hdrh's index: bucket from the bit length of (value | sub_bucket_mask), then the
    # sub-bucket from the value shifted by the bucket (frexp's exponent = bit length)
    unit = histogram.unit_magnitude
    half_magnitude = histogram.sub_bucket_half_count_magnitude
    bit_length = np.frexp((values | histogram.sub_bucket_mask).astype(np.float64))[1]
    bucket = bit_length.astype(np.int64) - unit - (half_magnitude + 1)
    sub_bucket = values >> (bucket + unit)
    index = ((bucket + 1) << half_magnitude) + (sub_bucket - histogram.sub_bucket_half_count)
    counts = np.ctypeslib.as_array(histogram.counts)
    np.add.at(counts, index, 1)
    histogram.total_count += len(values)
    histogram.min_value = min(histogram.min_value, int(values.min()))
    histogram.max_value = max(histogram.max_value, int(values.max()))


def encode(histogram: HdrHistogram) -> str:
    """The compressed, base64 text form (the HdrHistogram V2 wire format)."""
    encoded = histogram.encode()
    return encoded.decode("ascii") if isinstance(encoded, bytes) else str(encoded)


def decode(text: str) -> HdrHistogram:
    """Raises ValueError for text that is not an encoded histogram."""
    try:
        histogram = _unlinked(HdrHistogram.decode(text.encode("ascii")))
    except Exception as exc:  # hdrh raises assorted errors on garbage
        raise ValueError(f"not an encoded HDR histogram: {exc}") from None
    if histogram is None:
        raise ValueError("not an encoded HDR histogram")
    return histogram


def merge(encoded: Iterable[str]) -> HdrHistogram:
    """One histogram holding every value of the encoded ones."""
    total = new_histogram()
    for text in encoded:
        total.add(decode(text))
    return total


def add_into(total: HdrHistogram, other: HdrHistogram) -> None:
    if other.get_total_count():
        total.add(other)


def percentiles_ms(histogram: HdrHistogram, percentiles: Iterable[float]) -> dict[float, float]:
    """{95.0: 12.3, ...} in milliseconds; empty when the histogram is empty. The same
    values as hdrh's ``get_percentile_to_value_dict``, found with numpy."""
    wanted = sorted(set(percentiles))
    if not histogram.get_total_count() or not wanted:
        return {}
    counts, values = _counts_and_values(histogram)
    cumulative = np.cumsum(counts)
    out = {}
    for q in wanted:
        target = histogram.get_target_count_at_percentile(q)
        index = min(int(np.searchsorted(cumulative, target, side="left")), len(values) - 1)
        value = int(values[index])
        if q:
            value = histogram.get_highest_equivalent_value(value)
        out[q] = value / 1000.0
    return out


def max_ms(histogram: HdrHistogram) -> float | None:
    if not histogram.get_total_count():
        return None
    return float(histogram.get_max_value()) / 1000.0


def min_ms(histogram: HdrHistogram) -> float | None:
    if not histogram.get_total_count():
        return None
    return float(histogram.get_min_value()) / 1000.0


def mean_ms(histogram: HdrHistogram) -> float | None:
    total = histogram.get_total_count()
    if not total:
        return None
    counts, values = _counts_and_values(histogram)
    return float(np.dot(counts, values)) / float(total) / 1000.0


def _counts_and_values(histogram: HdrHistogram) -> tuple[np.ndarray, np.ndarray]:
    """The count array and the lowest equivalent value (µs) of each index, with numpy:
    hdrh's Python iterator costs about a second per histogram of this range."""
    length = histogram.counts_len
    counts = np.ctypeslib.as_array(histogram.counts)[:length].astype(np.float64)
    return counts, _index_values(
        length, histogram.sub_bucket_half_count_magnitude, histogram.unit_magnitude
    )


@functools.cache
def _index_values(length: int, half_magnitude: int, unit_magnitude: int) -> np.ndarray:
    index = np.arange(length, dtype=np.int64)
    half_count = 1 << half_magnitude
    bucket = (index >> half_magnitude) - 1
    sub_bucket = (index & (half_count - 1)) + half_count
    first = bucket < 0
    sub_bucket[first] -= half_count
    bucket[first] = 0
    values = (sub_bucket << (bucket + unit_magnitude)).astype(np.float64)
    values.setflags(write=False)
    return values


def count_above_ms(histogram: HdrHistogram, threshold_ms: float) -> int:
    """How many recorded values are (equivalently) above ``threshold_ms``."""
    if not histogram.get_total_count():
        return 0
    counts, values = _counts_and_values(histogram)
    return int(counts[values > threshold_ms * 1000.0].sum())
