"""Profiling and rule checks as Ray tasks over a table in the object store.

The table goes into the object store once; each task receives it as an argument by reference,
which Ray resolves to a zero-copy view of the shared-memory buffers (Arrow buffers travel
out-of-band), and profiles one block of columns.

Block sizing. A Ray task costs about a millisecond of overhead and a profile task should do at
least ~10 ms of work to pay for it, so a block holds at least `MIN_CELLS_PER_TASK` weighted cells
(a string cell weighs `STRING_WEIGHT`: hashing and length-counting text costs more than numbers).
Within that floor there is one block per CPU of the cluster (more tasks than CPUs made Ray
start extra worker processes each time: 3.1 s against 2.3 s for a 1M x 20 profile on 2 CPUs),
never more than there are columns; columns are dealt to blocks by
longest-processing-time-first (largest column to the lightest block), so the blocks finish
together.

CPUs. Each task asks for `TASK_NUM_CPUS` = 0.5. Profiling is CPU-bound, so a whole CPU would be
the honest ask, but the platform's Serve replicas reserve fractions of a CPU (the gateway 0.25,
the others less), and on a 2-CPU head whole-CPU tasks would then run one at a time. Half a CPU
lets about two tasks share each core — compute kernels release the GIL and a task's time is
mostly in Arrow's C++ — and keeps a task from starving the replicas for long.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import os
import time
from collections.abc import Sequence

import pyarrow as pa
import ray
from pydantic import BaseModel

from compute.tasks import got, outcome
from rivergen.errors import ValidationFailed
from rivergen.quality import (
    ColumnProfile,
    DatasetProfile,
    Rule,
    RuleResult,
    evaluate_rules,
    profile_column,
)
from rivergen.quality.values import Family, family

TASK_NUM_CPUS = 0.5
MIN_CELLS_PER_TASK = 250_000
STRING_WEIGHT = 3


class ProfiledBlock(BaseModel):
    """What one profiling task returns: its columns' profiles and who computed them."""

    pid: int
    columns: list[ColumnProfile]


class TableShape(BaseModel):
    num_rows: int
    columns: list[tuple[str, str]]  # (name, family)


@ray.remote(num_cpus=TASK_NUM_CPUS)
def profile_block(
    table: pa.Table, columns: list[int], top_k: int = 10, bins: int = 20
) -> ProfiledBlock:
    """Profile the columns at positions ``columns`` of ``table`` (passed as an ObjectRef: a
    zero-copy view). Positions, not names: a CSV may repeat a header."""
    return ProfiledBlock(
        pid=os.getpid(),
        columns=[
            profile_column(table.schema[i].name, table.column(i), top_k=top_k, bins=bins)
            for i in columns
        ],
    )


@ray.remote(num_cpus=0.05)
def table_shape(table: pa.Table) -> TableShape:
    """The row count and column families of a table in the object store (to plan blocks)."""
    return _shape(table)


@ray.remote(num_cpus=TASK_NUM_CPUS)
def check_rules_task(
    table: pa.Table, rules: list[Rule], now: dt.datetime, sample_size: int = 5
) -> list[RuleResult]:
    return evaluate_rules(table, rules, now=now, sample_size=sample_size)


def plan_blocks(shape: TableShape, *, cpus: float) -> list[list[int]]:
    """Column positions grouped into blocks (see the module doc), each block in table order."""
    if not shape.columns:
        return []
    weights = [
        max(shape.num_rows, 1) * (STRING_WEIGHT if kind == Family.STRING else 1)
        for _, kind in shape.columns
    ]
    slots = max(1, math.floor(cpus))
    by_work = max(1, sum(weights) // MIN_CELLS_PER_TASK)
    count = int(min(len(weights), slots, by_work))
    loads = [0] * count
    blocks: list[list[int]] = [[] for _ in range(count)]
    for position in sorted(range(len(weights)), key=lambda i: (-weights[i], i)):
        lightest = loads.index(min(loads))
        blocks[lightest].append(position)
        loads[lightest] += weights[position]
    return [sorted(block) for block in blocks]


async def profile_table(
    table: pa.Table | ray.ObjectRef[pa.Table], *, top_k: int = 10, bins: int = 20
) -> DatasetProfile:
    """Profile every column as Ray tasks; awaits, never blocks the event loop on Ray.

    ``table`` is a table (put into the object store here) or an ObjectRef to one (not fetched
    by the caller: a small task reads its shape where the object lives).
    """
    started, profiled_at = time.perf_counter(), dt.datetime.now(dt.UTC)
    if isinstance(table, pa.Table):
        shape, ref = _shape(table), await asyncio.to_thread(_put, table)
    else:
        ref = table
        shape = await outcome(table_shape.remote(ref))
    blocks = plan_blocks(shape, cpus=_cluster_cpus())
    done = await asyncio.gather(
        *(outcome(profile_block.remote(ref, block, top_k, bins)) for block in blocks)
    )
    return _assemble(shape, blocks, done, profiled_at, time.perf_counter() - started)


def profile_table_sync(
    table: pa.Table | ray.ObjectRef[pa.Table], *, top_k: int = 10, bins: int = 20
) -> DatasetProfile:
    """`profile_table` for scripts and benchmarks (blocks until done)."""
    started, profiled_at = time.perf_counter(), dt.datetime.now(dt.UTC)
    if isinstance(table, pa.Table):
        shape, ref = _shape(table), _put(table)
    else:
        ref = table
        shape = got(table_shape.remote(ref))
    blocks = plan_blocks(shape, cpus=_cluster_cpus())
    refs = [profile_block.remote(ref, block, top_k, bins) for block in blocks]
    done = [got(block_ref) for block_ref in refs]
    return _assemble(shape, blocks, done, profiled_at, time.perf_counter() - started)


async def check_rules(
    table: pa.Table | ray.ObjectRef[pa.Table],
    rules: Sequence[Rule],
    *,
    now: dt.datetime,
    sample_size: int = 5,
) -> list[RuleResult]:
    """`rivergen.quality.evaluate_rules` as one Ray task; its `ValidationFailed` reaches the
    caller as itself. A table (not a ref) that repeats a column name is `ValidationFailed`
    ``ambiguous_column`` (Ray cannot put it as it is, and rules name their columns)."""
    if isinstance(table, pa.Table):
        _unique_names(table)
    ref = await asyncio.to_thread(ray.put, table) if isinstance(table, pa.Table) else table
    results: list[RuleResult] = await outcome(
        check_rules_task.remote(ref, list(rules), now, sample_size)
    )
    return results


def _put(table: pa.Table) -> ray.ObjectRef[pa.Table]:
    """Put a table in the object store; a repeated column name (a CSV may repeat a header)
    becomes its position there, because Ray's Arrow serializer looks columns up by name.
    Profiles take their names from the original schema."""
    names = table.column_names
    if len(set(names)) != len(names):
        table = table.rename_columns([str(i) for i in range(len(names))])
    return ray.put(table)


def _unique_names(table: pa.Table) -> None:
    names = table.column_names
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        # Rules name their columns: with a repeated name they could not say which one.
        raise ValidationFailed(
            f"the table repeats the column names {repeated}",
            code="ambiguous_column",
            details={"columns": repeated},
        )


def _shape(table: pa.Table) -> TableShape:
    return TableShape(
        num_rows=table.num_rows,
        columns=[(field.name, family(field.type).value) for field in table.schema],
    )


def _cluster_cpus() -> float:
    return float(ray.cluster_resources().get("CPU", 1.0))  # type: ignore[no-untyped-call]


def _assemble(
    shape: TableShape,
    blocks: list[list[int]],
    done: Sequence[ProfiledBlock],
    profiled_at: dt.datetime,
    duration_s: float,
) -> DatasetProfile:
    by_position = {
        position: column
        for block, positions in zip(done, blocks, strict=True)
        for position, column in zip(positions, block.columns, strict=True)
    }
    return DatasetProfile(
        row_count=shape.num_rows,
        column_count=len(shape.columns),
        columns=[
            by_position[i].model_copy(update={"name": name})
            for i, (name, _) in enumerate(shape.columns)
        ],
        profiled_at=profiled_at,
        duration_s=duration_s,
        tasks=len(done),
        task_pids=sorted({block.pid for block in done}),
    )
