"""Decision Intelligence on Ray: a row of a governed dataset, and the decisions over a staged
dataset, one task per block of rows."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import ray

from compute.staging import RayDatasetCompute, read_dataset
from compute.tasks import outcome, require_ray
from rivergen.agents.dia.ports import BlockOutcome
from rivergen.jsonvalues import json_value
from rivergen.services.decisions import Guidelines, HardLimit, decide
from rivergen.services.governance import Governed
from rivergen.settings import Settings

TASK_CPUS = 0.25


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: json_value(v) for k, v in r.items()} for r in table.to_pylist()]


def find_row(
    settings: Settings,
    key: str,
    governed: Governed | None,
    index: int | None,
    column: str | None,
    value: Any,
) -> dict[str, Any] | None:
    table = read_dataset(settings, key, None, governed)
    if index is not None:
        return _rows(table.slice(index, 1))[0] if index < table.num_rows else None
    if column is None or column not in table.column_names:
        return None
    column_values = table.column(column)
    try:
        matches = pc.equal(column_values, pa.scalar(value).cast(column_values.type))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    found = pc.index(matches, True).as_py()
    return _rows(table.slice(found, 1))[0] if found >= 0 else None


def decide_block(
    table: pa.Table,
    offset: int,
    scores: Sequence[float],
    guidelines: Guidelines,
    limits: Sequence[HardLimit],
) -> BlockOutcome:
    """The decisions of rows ``offset ..`` (one per score)."""
    rows = _rows(table.slice(offset, len(scores)))
    outcomes: list[str] = []
    limit_hits: Counter[str] = Counter()
    rule_hits: Counter[str] = Counter()
    for row, score in zip(rows, scores, strict=True):
        decision = decide(score, row, guidelines, limits)
        outcomes.append(decision.outcome)
        limit_hits.update(h.name for h in decision.limits_hit)
        rule_hits.update(r.name for r in decision.rules_applied)
    return BlockOutcome(outcomes=outcomes, limit_hits=dict(limit_hits), rule_hits=dict(rule_hits))


_find_row = ray.remote(num_cpus=TASK_CPUS)(find_row)
_decide_block = ray.remote(num_cpus=TASK_CPUS)(decide_block)


@dataclass
class StagedTable:
    """A governed version in the object store (``ref``, what the tasks take) and here."""

    ref: Any
    table: pa.Table

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)

    def rows(self, offset: int, length: int) -> list[dict[str, Any]]:
        return _rows(self.table.slice(offset, length))


class RayDecisionCompute:
    """:class:`rivergen.agents.dia.ports.DecisionCompute` as Ray tasks."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._staging = RayDatasetCompute(settings)

    async def find_row(
        self,
        key: str,
        governed: Governed | None,
        index: int | None,
        column: str | None = None,
        value: Any = None,
    ) -> dict[str, Any] | None:
        require_ray()
        ref = _find_row.remote(self._settings, key, governed, index, column, value)
        row: dict[str, Any] | None = await outcome(ref)
        return row

    async def stage(self, key: str, governed: Governed | None) -> StagedTable:
        ref = self._staging.load(key, None, governed)
        table: pa.Table = await outcome(ref)
        return StagedTable(ref, table)

    async def decide(
        self,
        staged: Any,
        scores: Sequence[float],
        guidelines: Guidelines,
        limits: Sequence[HardLimit],
        block_rows: int,
    ) -> BlockOutcome:
        require_ray()
        assert isinstance(staged, StagedTable)
        refs = [
            _decide_block.remote(
                staged.ref, offset, list(scores[offset : offset + block_rows]), guidelines, limits
            )
            for offset in range(0, staged.num_rows, block_rows)
        ]
        blocks: list[BlockOutcome] = list(await asyncio.gather(*(outcome(r) for r in refs)))
        limit_hits: Counter[str] = Counter()
        rule_hits: Counter[str] = Counter()
        for block in blocks:
            limit_hits.update(block.limit_hits)
            rule_hits.update(block.rule_hits)
        return BlockOutcome(
            outcomes=[o for block in blocks for o in block.outcomes],
            limit_hits=dict(limit_hits),
            rule_hits=dict(rule_hits),
        )
