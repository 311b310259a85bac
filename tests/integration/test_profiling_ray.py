"""Acceptance: a million-row table profiled as Ray tasks over column blocks, exactly.

The table goes into the object store once; the profile runs as several Ray tasks in worker
processes, and its counts equal pyarrow.compute on the same data.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pytest
import ray

from compute.profiling import (
    MIN_CELLS_PER_TASK,
    TableShape,
    check_rules,
    plan_blocks,
    profile_table,
    profile_table_sync,
)
from rivergen.errors import ValidationFailed
from rivergen.quality import NotNullRule, RangeRule, UniqueRule, profile_column
from tests.conftest import SHARED_DATA

ROWS = 1_000_000

pytestmark = pytest.mark.slow


def million_rows(seed: int = 20240601) -> pa.Table:
    """20 columns: ints, floats with nulls, strings (skewed), bools, timestamps (with and
    without a zone), in two chunks."""
    rng = np.random.default_rng(seed)
    half = ROWS // 2
    columns: dict[str, pa.ChunkedArray] = {}

    def chunked(values: np.ndarray, type_: pa.DataType | None = None, nulls: float = 0.0) -> Any:
        mask = rng.random(ROWS) < nulls if nulls else None
        whole = pa.array(values, type_, mask=mask)
        return pa.chunked_array([whole[:half], whole[half:]])

    for i in range(5):
        columns[f"int_{i}"] = chunked(rng.integers(-1000 * (i + 1), 1000 * (i + 1), ROWS))
    for i in range(5):
        columns[f"float_{i}"] = chunked(rng.normal(i, 10, ROWS), nulls=0.1)
    words = np.array([f"word{j:04d}" for j in range(3000)])
    for i in range(4):
        columns[f"str_{i}"] = chunked(words[rng.zipf(1.3 + i / 5, ROWS) % 3000], nulls=0.05)
    for i in range(3):
        columns[f"bool_{i}"] = chunked(rng.random(ROWS) < 0.3 + i / 5, nulls=0.02)
    start = np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64)
    year_us = 365 * 86_400 * 1_000_000
    for i, tz in enumerate((None, "UTC", "Europe/Paris")):
        columns[f"ts_{i}"] = chunked(
            start + rng.integers(0, year_us, ROWS), pa.timestamp("us", tz=tz), nulls=0.01
        )
    return pa.table(columns)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    # `address="local"`: always a fresh head of our own, never a cluster left running nearby.
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return million_rows()


@pytest.fixture(scope="module")
def table_ref(ray_cluster: None, table: pa.Table) -> ray.ObjectRef[pa.Table]:
    return ray.put(table)


def expected_top(column: pa.ChunkedArray, k: int) -> list[tuple[Any, int]]:
    counted = pc.value_counts(column)
    ranked = pa.table({"v": counted.field("values"), "c": counted.field("counts")}).filter(
        pc.is_valid(counted.field("values"))
    )
    order = pc.sort_indices(ranked, sort_keys=[("c", "descending"), ("v", "ascending")])
    best = ranked.take(order[:k])
    return list(zip(best["v"].to_pylist(), best["c"].to_pylist(), strict=True))


async def test_million_rows_profiled_as_ray_tasks_exactly(
    table: pa.Table, table_ref: ray.ObjectRef[pa.Table]
) -> None:
    profile = await profile_table(table_ref, top_k=10, bins=20)

    assert (profile.row_count, profile.column_count) == (ROWS, 20)
    assert [c.name for c in profile.columns] == table.column_names
    assert profile.tasks > 1
    assert profile.task_pids and os.getpid() not in profile.task_pids

    for column in profile.columns:
        data = table[column.name]
        assert column.type == str(data.type)
        assert column.count == ROWS
        assert column.null_count == pc.count(data, mode="only_null").as_py() == data.null_count
        assert column.distinct_count == pc.count_distinct(data, mode="only_valid").as_py()
        top = expected_top(data, 10)
        if pa.types.is_timestamp(data.type):
            assert [c for _, c in top] == [v.count for v in column.top_values]
        else:
            assert [(v.value, v.count) for v in column.top_values] == top
        if pa.types.is_integer(data.type) or pa.types.is_floating(data.type):
            assert column.mean == pytest.approx(pc.mean(data).as_py(), rel=1e-9)
            assert column.std == pytest.approx(pc.stddev(data).as_py(), rel=1e-9)
            extremes = pc.min_max(data)
            assert (column.min, column.max) == (extremes["min"].as_py(), extremes["max"].as_py())
            assert column.histogram is not None
            assert sum(column.histogram.counts) == ROWS - data.null_count
        if pa.types.is_boolean(data.type):
            assert column.true_count == pc.sum(data).as_py()
            assert column.mean == pytest.approx(pc.mean(data).as_py(), rel=1e-9)

    # Timestamps as ISO texts at their resolution, in their zone.
    paris = next(c for c in profile.columns if c.name == "ts_2")
    assert isinstance(paris.min, str) and paris.min.startswith("2024-01-01T")
    assert paris.min.endswith("+01:00")


def test_blocks_are_sized_for_the_cluster() -> None:
    shape = TableShape(
        num_rows=ROWS, columns=[(f"c{i}", "string" if i < 3 else "integer") for i in range(20)]
    )
    blocks = plan_blocks(shape, cpus=2)
    # Two CPUs: two blocks, every column once, table order kept.
    assert len(blocks) == 2
    assert sorted(i for block in blocks for i in block) == list(range(20))
    assert all(block == sorted(block) for block in blocks)
    # The three string columns (heavier) land in different blocks.
    assert sorted(sum(i < 3 for i in block) for block in blocks) == [1, 2]

    tiny = TableShape(num_rows=1_000, columns=[(f"c{i}", "integer") for i in range(20)])
    assert len(plan_blocks(tiny, cpus=2)) == 1  # 20,000 cells: one task is cheaper
    few = TableShape(num_rows=ROWS, columns=[("only", "integer")])
    assert len(plan_blocks(few, cpus=16)) == 1
    assert plan_blocks(TableShape(num_rows=0, columns=[]), cpus=2) == []
    assert MIN_CELLS_PER_TASK * 4 <= ROWS * 20


def test_sync_profile_of_a_small_table_equals_the_library(ray_cluster: None) -> None:
    products = pcsv.read_csv(SHARED_DATA / "northwind" / "products.csv")
    profile = profile_table_sync(products)
    assert profile.row_count == 77 and profile.tasks == 1
    for column in profile.columns:
        assert column == profile_column(column.name, products[column.name])

    # A repeated header is two columns, each profiled.
    repeated = pcsv.read_csv(io.BytesIO(b"a,b,a\n1,x,2\n3,y,\n"))
    profile = profile_table_sync(repeated)
    assert [(c.name, c.min, c.null_count) for c in profile.columns] == [
        ("a", 1, 0),
        ("b", "x", 0),
        ("a", 2, 1),
    ]


async def test_rules_checked_as_a_ray_task(
    table: pa.Table, table_ref: ray.ObjectRef[pa.Table]
) -> None:
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    not_null, in_range, unique = await check_rules(
        table_ref,
        [
            NotNullRule(column="float_0"),
            RangeRule(column="int_0", min=-1000, max=999),
            UniqueRule(column="str_0"),
        ],
        now=now,
    )
    assert not_null.failing_count == table["float_0"].null_count
    assert [s.value for s in not_null.samples] == [None] * 5
    assert in_range.passed and in_range.checked_count == ROWS
    assert not unique.passed

    with pytest.raises(ValidationFailed) as caught:
        await check_rules(table_ref, [NotNullRule(column="missing")], now=now)
    assert caught.value.error_code == "unknown_column"
