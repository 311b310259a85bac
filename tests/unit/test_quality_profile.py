"""Column profiles: exact counts matching pyarrow.compute, and a JSON-safe summary per type."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pytest

from rivergen.quality import ColumnProfile, profile_column
from tests.conftest import SHARED_DATA


def as_json(profile: ColumnProfile) -> str:
    # Strict JSON: a NaN or infinity anywhere would make this raise.
    return json.dumps(profile.model_dump(mode="json"), allow_nan=False)


@pytest.fixture(scope="module")
def products() -> pa.Table:
    return pcsv.read_csv(SHARED_DATA / "northwind" / "products.csv")


def test_northwind_products_known_facts(products: pa.Table) -> None:
    profiles = {name: profile_column(name, products[name]) for name in products.column_names}
    for profile in profiles.values():
        as_json(profile)
        assert profile.count == 77
        assert profile.null_count == 0

    category = profiles["categoryID"]
    assert category.type == "int64"
    assert category.distinct_count == 8
    assert (category.min, category.max) == (1, 8)
    # Seafood (3) has 13 products; Beverages (1) and Condiments (2) tie at 12: lower value first.
    assert [(v.value, v.count) for v in category.top_values[:3]] == [(3, 13), (1, 12), (2, 12)]
    assert sum(v.count for v in category.top_values) == 77

    assert profiles["productID"].distinct_count == 77
    assert profiles["productName"].distinct_count == 77
    assert profiles["productName"].min == "Alice Mutton"
    assert profiles["productName"].max == "Zaanse koeken"

    price = profiles["unitPrice"]
    assert price.type == "double"
    assert (price.min, price.max) == (2.5, 263.5)  # Geitost and Côte de Blaye
    assert price.mean == pytest.approx(28.866363636363637)
    assert price.quantiles is not None and price.quantiles["p50"] == 19.5
    assert price.histogram is not None and sum(price.histogram.counts) == 77

    discontinued = profiles["discontinued"]
    assert [(v.value, v.count) for v in discontinued.top_values] == [(0, 69), (1, 8)]

    names = profiles["productName"]
    assert names.histogram is not None and names.histogram.kind == "length"
    assert sum(names.histogram.counts) == 77


def test_integers_match_pyarrow_compute() -> None:
    column = pa.chunked_array([[5, None, 1, 1], [3, None, 1000, -7]], pa.int64())
    profile = profile_column("n", column, bins=4)
    assert (profile.count, profile.null_count) == (8, 2)
    assert profile.distinct_count == pc.count_distinct(column).as_py() == 5
    assert profile.mean == pc.mean(column).as_py()
    assert profile.std == pc.stddev(column).as_py()
    assert profile.std == pytest.approx(float(np.std([5, 1, 1, 3, 1000, -7])))  # ddof=0
    assert (profile.min, profile.max) == (-7, 1000)
    assert profile.quantiles is not None
    values = np.array([5, 1, 1, 3, 1000, -7])
    for key, q in {"p0": 0, "p5": 0.05, "p25": 0.25, "p50": 0.5, "p95": 0.95, "p100": 1}.items():
        assert profile.quantiles[key] == pytest.approx(float(np.quantile(values, q)))
    assert profile.histogram is not None
    assert profile.histogram.edges == pytest.approx([-7, 244.75, 496.5, 748.25, 1000])
    assert profile.histogram.counts == [5, 0, 0, 1]
    assert profile.top_values[0].model_dump() == {"value": 1, "count": 2}


def test_unsigned_and_small_integers() -> None:
    profile = profile_column("u", pa.array([2**64 - 1, 0, None], pa.uint64()))
    assert (profile.min, profile.max) == (0, 2**64 - 1)
    small = profile_column("i8", pa.array([-128, 127, 127], pa.int8()))
    assert small.top_values[0].value == 127 and small.distinct_count == 2


def test_floats_nan_and_infinity_are_counted_and_left_out_of_the_summary() -> None:
    values = [1.0, math.nan, math.nan, None, math.inf, -math.inf, 2.0, 2.0, -0.0, 0.0]
    column = pa.array(values, pa.float64())
    profile = profile_column("f", column)
    as_json(profile)
    assert (profile.count, profile.null_count) == (10, 1)
    assert (profile.nan_count, profile.inf_count) == (2, 2)
    # NaN is one distinct value, -0.0 and 0.0 are two: exactly pyarrow's count.
    assert profile.distinct_count == pc.count_distinct(column).as_py() == 7
    finite = pa.array([1.0, 2.0, 2.0, -0.0, 0.0])
    assert (profile.min, profile.max) == (-0.0, 2.0)
    assert profile.mean == pc.mean(finite).as_py() == 1.0
    assert profile.std == pc.stddev(finite).as_py()
    assert profile.histogram is not None and sum(profile.histogram.counts) == 5
    top = [(v.value, v.count) for v in profile.top_values]
    assert top[0] == (2.0, 2)
    assert "NaN" not in [v for v, _ in top]
    assert ("Infinity", 1) in top and ("-Infinity", 1) in top


def test_float32_and_half_floats() -> None:
    profile = profile_column("f32", pa.array([0.5, 1.5, None], pa.float32()))
    assert (profile.type, profile.mean) == ("float", 1.0)
    half = profile_column("f16", pa.array(np.array([0.5, 1.5], np.float16)))
    assert (half.type, half.mean, half.distinct_count) == ("halffloat", 1.0, 2)


def test_decimals_summarised_as_floats() -> None:
    column = pa.array(
        [decimal.Decimal("1.10"), decimal.Decimal("2.20"), None, decimal.Decimal("2.20")],
        pa.decimal128(12, 2),
    )
    profile = profile_column("d", column)
    as_json(profile)
    assert profile.type == "decimal128(12, 2)"
    assert (profile.min, profile.max) == (1.1, 2.2)
    assert profile.mean == pytest.approx(5.5 / 3)
    assert profile.distinct_count == 2
    assert profile.top_values[0].model_dump() == {"value": 2.2, "count": 2}


def test_strings_and_length_histogram() -> None:
    for type_ in (pa.string(), pa.large_string(), pa.string_view()):
        column = pa.array(["b", "a", "b", "a", None, "ccc", "é"], type_)
        profile = profile_column("s", column, bins=3)
        assert profile.type == str(type_)
        assert profile.distinct_count == 4
        assert (profile.min, profile.max) == ("a", "é")  # bytewise: é (0xC3A9) after c
        # Ties at 2: "a" before "b"; then "ccc" before "é".
        assert [(v.value, v.count) for v in profile.top_values] == [
            ("a", 2),
            ("b", 2),
            ("ccc", 1),
            ("é", 1),
        ]
        assert profile.histogram is not None
        assert profile.histogram.kind == "length"
        assert profile.histogram.edges == pytest.approx([1, 5 / 3, 7 / 3, 3])
        assert profile.histogram.counts == [5, 0, 1]  # "é" is one character
        assert profile.mean is None and profile.quantiles is None


def test_top_k_limits_and_ties_are_deterministic() -> None:
    column = pa.array(["z", "y", "x", "w", "z", "y", "x", "w", "v"])
    first = profile_column("s", column, top_k=3)
    assert [(v.value, v.count) for v in first.top_values] == [("w", 2), ("x", 2), ("y", 2)]
    reversed_ = profile_column("s", pa.array(column.to_pylist()[::-1]), top_k=3)
    assert reversed_.top_values == first.top_values
    assert profile_column("s", column, top_k=0).top_values == []


def test_dictionary_columns_are_profiled_by_their_values() -> None:
    # The dictionary holds an unused entry and the chunks have different dictionaries.
    first = pa.DictionaryArray.from_arrays(pa.array([0, 0, 1]), pa.array(["red", "blue", "unused"]))
    second = pa.DictionaryArray.from_arrays(pa.array([0, None]), pa.array(["blue"]))
    profile = profile_column("colour", pa.chunked_array([first, second]))
    assert profile.type == "dictionary<values=string, indices=int64, ordered=0>"
    assert (profile.count, profile.null_count, profile.distinct_count) == (5, 1, 2)
    assert [(v.value, v.count) for v in profile.top_values] == [("blue", 2), ("red", 2)]


def test_booleans() -> None:
    column = pa.array([True, False, True, None, True])
    profile = profile_column("b", column)
    assert (profile.true_count, profile.false_count, profile.null_count) == (3, 1, 1)
    assert profile.mean == 0.75
    assert (profile.min, profile.max) == (False, True)
    assert profile.distinct_count == 2
    assert [(v.value, v.count) for v in profile.top_values] == [(True, 3), (False, 1)]
    assert profile.histogram is None and profile.quantiles is None


def test_dates() -> None:
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=n) for n in (0, 10, 20, 30)]
    profile = profile_column("d", pa.array([*days, None], pa.date32()))
    assert (profile.min, profile.max) == ("2024-01-01", "2024-01-31")
    # `lower` interpolation: every quantile is a date in the column.
    assert profile.quantiles == {
        "p0": "2024-01-01",
        "p5": "2024-01-01",
        "p25": "2024-01-01",
        "p50": "2024-01-11",
        "p75": "2024-01-21",
        "p95": "2024-01-21",
        "p100": "2024-01-31",
    }
    assert profile.histogram is not None
    assert profile.histogram.edges[0] == "2024-01-01"
    assert profile.histogram.edges[-1] == "2024-01-31"
    assert sum(profile.histogram.counts) == 4
    assert profile.mean is None


def test_timestamps_with_and_without_zone_keep_their_resolution() -> None:
    ns = 1_700_000_000_123_456_789
    aware = profile_column("t", pa.array([ns, ns + 1, None], pa.timestamp("ns", tz="Europe/Paris")))
    as_json(aware)
    assert aware.min == "2023-11-14T23:13:20.123456789+01:00"
    assert aware.max == "2023-11-14T23:13:20.123456790+01:00"
    assert aware.distinct_count == 2
    assert aware.top_values[0].value == aware.min

    naive = profile_column("t", pa.array([0, 1_500, 86_400_000], pa.timestamp("ms")))
    assert (naive.min, naive.max) == ("1970-01-01T00:00:00", "1970-01-02T00:00:00")
    assert naive.quantiles is not None and naive.quantiles["p50"] == "1970-01-01T00:00:01.500"

    offset = profile_column("t", pa.array([0], pa.timestamp("s", tz="-03:30")))
    assert offset.min == "1969-12-31T20:30:00-03:30"


def test_all_null_and_empty_columns() -> None:
    nulls = profile_column("n", pa.nulls(4))
    assert (nulls.type, nulls.count, nulls.null_count, nulls.distinct_count) == ("null", 4, 4, 0)
    for type_ in (
        pa.int64(),
        pa.float64(),
        pa.string(),
        pa.bool_(),
        pa.date32(),
        pa.timestamp("us", tz="UTC"),
        pa.decimal128(5, 1),
        pa.dictionary(pa.int32(), pa.string()),
    ):
        for column in (pa.nulls(3, type_), pa.chunked_array([], type_)):
            profile = profile_column("c", column)
            as_json(profile)
            assert profile.count == len(column)
            assert profile.null_count == len(column)
            assert profile.distinct_count == 0
            assert profile.min is None and profile.max is None and profile.mean is None
            assert profile.quantiles is None and profile.histogram is None
            assert profile.top_values == []


def test_empty_table_columns() -> None:
    table = pa.table({"a": pa.array([], pa.int64()), "s": pa.array([], pa.string())})
    for name in table.column_names:
        profile = profile_column(name, table[name])
        assert (profile.count, profile.null_count, profile.distinct_count) == (0, 0, 0)


def test_nested_and_binary_and_duration_columns() -> None:
    nested = profile_column("l", pa.array([[1, 2], None, []]))
    assert (nested.count, nested.null_count, nested.distinct_count) == (3, 1, None)
    as_json(nested)

    binary = profile_column("b", pa.array([b"\x00\xff", b"a", b"a"]))
    assert (binary.min, binary.max) == ("0x00ff", "0x61")
    assert binary.top_values[0].model_dump() == {"value": "0x61", "count": 2}
    assert binary.histogram is not None and binary.histogram.kind == "length"

    duration = profile_column("d", pa.array([1, 3, None], pa.duration("s")))
    assert (duration.min, duration.max, duration.mean) == (1, 3, 2.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_random_columns_match_pyarrow_compute(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 5_000
    columns = {
        "ints": pa.array(rng.integers(0, 50, n), mask=rng.random(n) < 0.1),
        "floats": pa.array(rng.normal(size=n).round(2), mask=rng.random(n) < 0.1),
        "words": pa.array(rng.choice(["a", "bb", "ccc", "dddd"], n)),
        "flags": pa.array(rng.random(n) < 0.5),
    }
    for name, column in columns.items():
        chunked = pa.chunked_array([column[: n // 3], column[n // 3 :]])
        profile = profile_column(name, chunked, top_k=100)
        assert profile.null_count == pc.count(chunked, mode="only_null").as_py()
        assert profile.distinct_count == pc.count_distinct(chunked).as_py()
        counted = pc.value_counts(chunked).to_pylist()
        ranked = sorted(
            (-row["counts"], row["values"]) for row in counted if row["values"] is not None
        )
        assert [(v.value, v.count) for v in profile.top_values] == [
            (value, -minus) for minus, value in ranked[:100]
        ]


def test_values_beyond_what_json_and_datetime_hold() -> None:
    huge = profile_column("f", pa.array([-1e308, 1e308]))
    assert (huge.min, huge.max, huge.histogram) == (-1e308, 1e308, None)
    far = profile_column("t", pa.array([0, 400_000_000_000_000], pa.timestamp("s")))
    assert (far.min, far.max) == ("1970-01-01T00:00:00", "400000000000000")


def test_text_columns_keep_their_distinct_values_up_to_a_limit() -> None:
    from rivergen.agents.prompt_studio.catalog import _hints
    from rivergen.quality.profile import MAX_KEPT_CHARS, MAX_KEPT_VALUES, capped_profile
    from rivergen.quality.schemas import DatasetProfile

    names = pa.array(["Chai", "Tofu", None, "Chai", "Ikura"], pa.string())
    profile = profile_column("productName", names)
    assert profile.values == ["Chai", "Ikura", "Tofu"] and profile.distinct_count == 3
    assert profile.top_values[0].value == "Chai"  # the top values stay as they are
    large = profile_column("s", pa.array(["x"] * 3, pa.large_string()))
    assert large.values == ["x"]
    assert profile_column("n", pa.array([1, 2, 3])).values is None  # numbers keep none
    many = pa.array([f"id-{i}" for i in range(MAX_KEPT_VALUES + 1)])
    assert profile_column("id", many).values is None
    long = pa.array(["x" * (MAX_KEPT_CHARS // 2 + 1), "y" * (MAX_KEPT_CHARS // 2 + 1)])
    assert profile_column("text", long).values is None
    # A caller limited to fewer rows than there are values gets none of them.
    dataset = DatasetProfile(
        row_count=5,
        column_count=1,
        columns=[profile],
        profiled_at=dt.datetime.now(dt.UTC),
        duration_s=0.0,
        tasks=0,
    )
    assert capped_profile(dataset, 2).columns[0].values is None
    assert capped_profile(dataset, 3).columns[0].values == ["Chai", "Ikura", "Tofu"]
    # The catalog hints kept values past the ten top values, and the top values within them.
    cities = pa.array([f"City {i:02d}" for i in range(30)])
    kept = {
        "columns": [
            profile_column("city", cities).model_dump(mode="json"),
            profile.model_dump(mode="json"),
        ]
    }
    hints = _hints(json.dumps(kept))
    assert hints["city"] == [f"City {i:02d}" for i in range(30)]
    assert hints["productName"] == ["Chai", "Ikura", "Tofu"]
    unhinted = {"columns": [profile_column("id", many).model_dump(mode="json")]}
    assert _hints(json.dumps(unhinted)) == {}
