"""What the dataset registry needs from compute (Data Staging on Ray; see compute/staging.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa

from rivergen.datasets.formats import ParseOptions
from rivergen.datasets.schemas import Preview, StagedVersion
from rivergen.quality import DatasetProfile, Rule, RuleResult
from rivergen.services.governance.schemas import Governed


class DatasetCompute(Protocol):
    async def stage_file(
        self,
        source_key: str,
        name: str,
        content_type: str | None,
        options: ParseOptions,
        target_key: str,
    ) -> StagedVersion:
        """Parse a stored file into the Parquet object ``target_key`` (nothing written on an
        error)."""

    async def stage_table(self, table: pa.Table, target_key: str) -> StagedVersion:
        """Write a table as the Parquet object ``target_key``."""

    def load(
        self, key: str, columns: list[str] | None = None, governed: Governed | None = None
    ) -> Any:
        """A reference to the version's Arrow table in the cluster's object store (as
        ``governed`` lets its caller see it, if given)."""

    async def preview(
        self, key: str, version: int, limit: int, governed: Governed | None = None
    ) -> Preview: ...

    async def export(self, key: str, governed: Governed) -> tuple[bytes, int]:
        """The version as ``governed`` lets its caller see it: Parquet bytes and row count."""

    async def delete(self, keys: list[str]) -> None: ...

    async def profile(self, key: str, governed: Governed | None = None) -> DatasetProfile:
        """Profile every column of a version (as tasks over blocks of columns)."""

    async def check_rules(
        self,
        key: str,
        rules: Sequence[Rule],
        now: datetime,
        sample_size: int,
        governed: Governed | None = None,
    ) -> list[RuleResult]:
        """Each rule's pass or fail over a version, with up to ``sample_size`` failing rows."""
