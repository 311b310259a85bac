"""The dataset registry as job kinds see it while validating: one workspace, and a missing
dataset is a parameter error (422), not a missing resource."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from rivergen.datasets import store as datasets
from rivergen.datasets.schemas import ColumnInfo
from rivergen.db import Database
from rivergen.errors import ValidationFailed
from rivergen.jobs.schemas import DatasetInput


class DatasetCatalog:
    """:class:`rivergen.jobs.kinds.Catalog` over the registry's tables. One instance serves
    one request: what it has found it remembers (a job's validation and its lineage ask for
    the same datasets)."""

    def __init__(self, db: Database, workspace: UUID) -> None:
        self._db = db
        self._workspace = workspace
        self._found: dict[tuple[UUID, int | None], DatasetInput] = {}

    async def dataset(self, dataset: UUID, version: int | None) -> DatasetInput:
        known = self._found.get((dataset, version))
        if known is not None:
            return known
        async with self._db.transaction(str(self._workspace)) as conn:
            found = await datasets.get(conn, dataset) is not None
            row = await datasets.version(conn, dataset, version) if found else None
        if not found:
            raise ValidationFailed(
                f"dataset {dataset} not found", code="dataset_not_found",
                details={"dataset": str(dataset)},
            )  # fmt: skip
        if row is None:
            raise ValidationFailed(
                f"dataset {dataset} has no version {version}", code="dataset_version_not_found",
                details={"dataset": str(dataset), "version": version},
            )  # fmt: skip
        return self._remember(dataset, version, row)

    async def named(self, name: str) -> DatasetInput | None:
        async with self._db.transaction(str(self._workspace)) as conn:
            rows = await conn.fetch(
                "SELECT id, name FROM datasets WHERE lower(name) = lower($1)", name
            )
            exact = [r for r in rows if r["name"] == name]
            chosen = exact or (rows if len(rows) == 1 else [])
            if not chosen:
                return None
            dataset = chosen[0]["id"]
            known = self._found.get((dataset, None))
            if known is not None:
                return known
            row = await datasets.version(conn, dataset, None)
        if row is None:  # a dataset always has a version; deleted between the two reads
            return None
        return self._remember(dataset, None, row)

    def _remember(self, dataset: UUID, version: int | None, row: Any) -> DatasetInput:
        found = DatasetInput(
            dataset=dataset, version=row["version"], object_key=row["object_key"],
            columns=[ColumnInfo(**c) for c in json.loads(row["columns"])],
            row_count=row["row_count"], size_bytes=row["size_bytes"],
        )  # fmt: skip
        self._found[(dataset, version)] = self._found[(dataset, found.version)] = found
        return found
