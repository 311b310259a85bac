"""What Decision Intelligence needs from compute: a row of a dataset, and per-block decisions
over a staged dataset (Ray tasks in ``compute/decisions.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel, Field

from rivergen.services.decisions import Guidelines, HardLimit
from rivergen.services.governance import Governed


class BlockOutcome(BaseModel):
    """The decisions over some rows: each row's outcome, and how often each limit and rule
    applied."""

    outcomes: list[str]
    limit_hits: dict[str, int] = Field(default_factory=dict)
    rule_hits: dict[str, int] = Field(default_factory=dict)


class StagedRows(Protocol):
    """A governed dataset version staged for compute."""

    @property
    def num_rows(self) -> int: ...

    def rows(self, offset: int, length: int) -> list[dict[str, Any]]:
        """Rows as JSON-able dicts (what a predictor takes)."""
        ...


class DecisionCompute(Protocol):
    async def find_row(
        self,
        key: str,
        governed: Governed | None,
        index: int | None,
        column: str | None = None,
        value: Any = None,
    ) -> dict[str, Any] | None:
        """Row ``index`` of the version, or the first whose ``column`` equals ``value``; None
        if there is none."""
        ...

    async def stage(self, key: str, governed: Governed | None) -> StagedRows: ...

    async def decide(
        self,
        staged: StagedRows,
        scores: Sequence[float],
        guidelines: Guidelines,
        limits: Sequence[HardLimit],
        block_rows: int,
    ) -> BlockOutcome:
        """Every row's decision (one task per block of ``block_rows``), in row order."""
        ...
