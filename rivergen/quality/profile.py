"""Profile one Arrow column: exact counts and a summary fitting its type.

What a caller may rely on:

- ``count`` is the number of rows; ``null_count`` is ``pyarrow.compute.count(mode="only_null")``;
  ``distinct_count`` equals ``pyarrow.compute.count_distinct(mode="only_valid")`` (exact; NaN
  counts as one value, -0.0 and 0.0 as two), taken from the same hash pass as the top values.
  Dictionary columns are profiled by their decoded values.
- Floats: NaN and +/-infinity are not nulls. They are counted (``nan_count``, ``inf_count``) and
  left out of min, max, mean, std, quantiles and the histogram, which summarise the finite
  values (so JSON can hold them). Without NaN or infinity that summary is exactly
  ``pyarrow.compute`` on the column. Top values leave NaN out; infinities stay, as texts.
- ``mean`` is ``pyarrow.compute.mean``; ``std`` is ``pyarrow.compute.stddev`` with its default
  ``ddof=0`` (population): a profile describes the data at hand, not a sample of a larger one.
  Decimals are summarised as float64; durations as integers of their unit.
- Quantiles are exact (``pyarrow.compute.quantile``, no sketch): numeric columns use linear
  interpolation between the two nearest ranks (numpy's default), temporal columns use
  ``lower`` so each quantile is a value that occurs in the column.
- Top values: the ``top_k`` most frequent non-null values, by count descending, ties broken by
  value ascending (deterministic).
- Histograms: ``bins`` equal-width bins between the finite min and max (numpy's rule), over the
  values of numeric and temporal columns, over the lengths (characters for strings, bytes for
  binary) of string and binary columns; none for booleans, nested types or columns without
  values.
- Values: a string column with at most ``MAX_KEPT_VALUES`` distinct values holding at most
  ``MAX_KEPT_CHARS`` characters in all keeps them all (``values``, sorted by code point), so a
  question may name one of them (a product, a person, an airport code); None otherwise.
- Booleans: ``true_count``, ``false_count``; mean is the share of true.
- Nested columns (list, struct, map): only ``count`` and ``null_count``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rivergen.quality.schemas import (
    QUANTILES,
    ColumnProfile,
    DatasetProfile,
    Histogram,
    ValueCount,
)
from rivergen.quality.values import (
    Family,
    family,
    json_scalar,
    json_values,
    normalize,
    physical_ints,
    temporal_iso,
)

MAX_KEPT_VALUES = 5_000
"""The most distinct values a text column's profile keeps: enough for the names of a table of
things (products, people, customers, airports, cities), which a question names one by one,
while columns of free text or of per-row identifiers (more distinct values than that) keep
none."""
MAX_KEPT_CHARS = 100_000
"""The most characters the kept values of one column may hold in all: the profile is stored as
JSON, and a few thousand names of ordinary length stay well under it."""

_NUMERIC = {Family.INTEGER, Family.FLOATING, Family.DECIMAL, Family.DURATION}


def profile_column(
    name: str, column: pa.ChunkedArray | pa.Array, *, top_k: int = 10, bins: int = 20
) -> ColumnProfile:
    """Profile one column (see the module doc for what each figure means)."""
    col = normalize(column)
    kind = family(col.type)
    fields: dict[str, Any] = {
        "name": name,
        "type": str(column.type),
        "count": len(col),
        "null_count": col.null_count if kind is Family.NULL else _count(col, "only_null"),
    }
    if kind is Family.NULL:
        return ColumnProfile(**fields, distinct_count=0)
    if kind is Family.NESTED:
        return ColumnProfile(**fields, distinct_count=None)
    # One hash pass gives both: value_counts holds each distinct value once (a null too).
    counted = pc.value_counts(col)
    fields["distinct_count"] = len(counted) - counted.field("values").null_count
    fields["top_values"] = top_values(counted, top_k)
    if kind in _NUMERIC:
        fields.update(_numeric(col, kind, bins))
    elif kind is Family.TEMPORAL:
        fields.update(_temporal(col, bins))
    elif kind is Family.BOOLEAN:
        fields.update(_boolean(col))
    else:
        fields.update(_text(col, kind, bins))
        if kind is Family.STRING:
            fields["values"] = kept_values(counted, fields["distinct_count"])
    return ColumnProfile(**fields)


def capped_profile(profile: DatasetProfile, max_rows: int | None) -> DatasetProfile:
    """``profile`` as a caller whose row limit is ``max_rows`` may take it: each column's top
    values are values of rows, at most ``max_rows`` of them (None: no limit), and a column
    keeps its distinct ``values`` only when there are no more of them than that."""
    if max_rows is None or all(
        len(c.top_values) <= max_rows and len(c.values or []) <= max_rows for c in profile.columns
    ):
        return profile
    columns = [
        c.model_copy(
            update={
                "top_values": c.top_values[:max_rows],
                "values": c.values if c.values is None or len(c.values) <= max_rows else None,
            }
        )
        for c in profile.columns
    ]
    return profile.model_copy(update={"columns": columns})


def kept_values(counted: pa.StructArray, distinct: int) -> list[str] | None:
    """Every distinct non-null value of a string column, sorted, from ``pc.value_counts``;
    None past ``MAX_KEPT_VALUES`` values or ``MAX_KEPT_CHARS`` characters."""
    if distinct > MAX_KEPT_VALUES:
        return None
    values = counted.field("values").drop_null()
    if int(pc.sum(pc.utf8_length(values)).as_py() or 0) > MAX_KEPT_CHARS:
        return None
    return sorted(str(v) for v in values.to_pylist())


def top_values(counted: pa.StructArray, top_k: int) -> list[ValueCount]:
    """The ``top_k`` most frequent non-null, non-NaN values, from ``pc.value_counts``."""
    if top_k <= 0 or len(counted) == 0:
        return []
    values, counts = counted.field("values"), counted.field("counts")
    keep = pc.is_valid(values)
    if family(values.type) is Family.FLOATING:
        keep = pc.and_(keep, pc.invert(pc.is_nan(values)))
    table = pa.table({"value": values, "count": counts}).filter(keep)
    if table.num_rows == 0:
        return []
    best = pc.select_k_unstable(
        table,
        k=min(top_k, table.num_rows),
        sort_keys=[("count", "descending"), ("value", "ascending")],
    )
    chosen = table.take(best)
    return [
        ValueCount(value=value, count=count)
        for value, count in zip(
            json_values(chosen["value"]), chosen["count"].to_pylist(), strict=True
        )
    ]


def _count(column: pa.ChunkedArray, mode: str) -> int:
    return int(pc.count(column, mode=mode).as_py())


def _numeric(col: pa.ChunkedArray, kind: Family, bins: int) -> dict[str, Any]:
    if kind is Family.DECIMAL:
        values = col.cast(pa.float64())
    elif kind is Family.DURATION:
        values = physical_ints(col)
    else:
        values = col
    out: dict[str, Any] = {}
    if kind is Family.FLOATING:
        out["nan_count"] = int(pc.sum(pc.is_nan(values)).as_py() or 0)
        out["inf_count"] = int(pc.sum(pc.is_inf(values)).as_py() or 0)
        if out["nan_count"] or out["inf_count"]:
            values = values.filter(pc.is_finite(values))
    if _count(values, "only_valid") == 0:
        return out
    extremes = pc.min_max(values)
    quantiles = pc.quantile(values, q=list(QUANTILES.values()), interpolation="linear")
    out.update(
        min=json_scalar(extremes["min"]),
        max=json_scalar(extremes["max"]),
        mean=pc.mean(values).as_py(),
        std=pc.stddev(values, ddof=0).as_py(),
        quantiles=dict(zip(QUANTILES, quantiles.to_pylist(), strict=True)),
        histogram=_histogram(values, bins, "value"),
    )
    return out


def _temporal(col: pa.ChunkedArray, bins: int) -> dict[str, Any]:
    ints = physical_ints(col)
    if _count(ints, "only_valid") == 0:
        return {}
    extremes = pc.min_max(ints)
    quantiles = pc.quantile(ints, q=list(QUANTILES.values()), interpolation="lower")
    binned = _bins(ints, bins)
    histogram = None
    if binned is not None:
        origin, edges, counts = binned
        histogram = Histogram(
            kind="value",
            edges=[temporal_iso(int(origin) + round(edge), col.type) for edge in edges],
            counts=counts,
        )
    return {
        "min": temporal_iso(extremes["min"].as_py(), col.type),
        "max": temporal_iso(extremes["max"].as_py(), col.type),
        "quantiles": {
            key: temporal_iso(value, col.type)
            for key, value in zip(QUANTILES, quantiles.to_pylist(), strict=True)
        },
        "histogram": histogram,
    }


def _boolean(col: pa.ChunkedArray) -> dict[str, Any]:
    valid = _count(col, "only_valid")
    true = int(pc.sum(col).as_py() or 0)
    extremes = pc.min_max(col)
    return {
        "true_count": true,
        "false_count": valid - true,
        "mean": pc.mean(col).as_py(),
        "min": extremes["min"].as_py(),
        "max": extremes["max"].as_py(),
    }


def _text(col: pa.ChunkedArray, kind: Family, bins: int) -> dict[str, Any]:
    if _count(col, "only_valid") == 0:
        return {}
    extremes = pc.min_max(col)
    lengths = pc.utf8_length(col) if kind is Family.STRING else pc.binary_length(col)
    return {
        "min": json_scalar(extremes["min"]),
        "max": json_scalar(extremes["max"]),
        "histogram": _histogram(lengths, bins, "length"),
    }


def _histogram(values: pa.ChunkedArray, bins: int, kind: str) -> Histogram | None:
    binned = _bins(values, bins)
    if binned is None:
        return None
    origin, edges, counts = binned
    return Histogram.model_validate(
        {"kind": kind, "edges": [origin + edge for edge in edges], "counts": counts}
    )


def _bins(values: pa.ChunkedArray, bins: int) -> tuple[int | float, list[float], list[int]] | None:
    """numpy's equal-width histogram of the non-null values as (origin, edges - origin, counts),
    or None without values."""
    data = values.drop_null().to_numpy()
    if bins <= 0 or data.size == 0:
        return None
    origin: int | float = 0.0
    if data.dtype.kind in "iu":
        # Integers (nanosecond timestamps above all) are binned as offsets from their minimum:
        # as float64 a narrow range of large numbers has too little precision for the edges.
        # The offsets are exact in uint64 whatever the signs.
        origin = int(data.min())
        data = data.astype(np.uint64) - np.uint64(origin % 2**64)
    try:
        with np.errstate(all="ignore"):
            counts, edges = np.histogram(data, bins=bins)
    except ValueError:  # a float range wider than float64 holds (-1e308 .. 1e308)
        return None
    return origin, [float(edge) for edge in edges], [int(count) for count in counts]
