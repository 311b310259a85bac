"""The dataset registry as job kinds see it while validating: one workspace, and a missing
dataset is a parameter error (422), not a missing resource."""

from __future__ import annotations

import json
from collections.abc import Sequence
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
                f"dataset {dataset} not found",
                code="dataset_not_found",
                details={"dataset": str(dataset)},
            )
        if row is None:
            raise ValidationFailed(
                f"dataset {dataset} has no version {version}",
                code="dataset_version_not_found",
                details={"dataset": str(dataset), "version": version},
            )
        return self._remember(dataset, version, row)

    async def named(self, names: list[str]) -> dict[str, DatasetInput]:
        """The current versions of the datasets called ``names``, in one transaction: each
        name's dataset matched exactly, else ignoring case when only one matches; a name
        without a dataset is left out."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        async with self._db.transaction(str(self._workspace)) as conn:
            rows = await conn.fetch(
                "SELECT d.id AS dataset, d.name, v.version, v.object_key, v.columns, "
                "v.row_count, v.size_bytes FROM datasets d JOIN dataset_versions v "
                "ON v.dataset_id = d.id AND v.version = d.current_version "
                "WHERE lower(d.name) = ANY($1::text[])",
                [name.lower() for name in wanted],
            )
        found: dict[str, DatasetInput] = {}
        for name in wanted:
            alike = [r for r in rows if r["name"].lower() == name.lower()]
            chosen = [r for r in alike if r["name"] == name] or (alike if len(alike) == 1 else [])
            if chosen:
                row = chosen[0]
                found[name] = self._found.get((row["dataset"], None)) or self._remember(
                    row["dataset"], None, row
                )
        return found

    def known(self, inputs: list[tuple[UUID, int]]) -> list[DatasetInput]:
        """The pinned versions ``inputs`` this catalog has found already."""
        return [self._found[pair] for pair in dict.fromkeys(inputs) if pair in self._found]

    def remember(self, found: Sequence[DatasetInput]) -> None:
        """Take versions found by another catalog of the same workspace (a job's submitter)."""
        for item in found:
            self._found[(item.dataset, item.version)] = item

    async def pinned(self, inputs: list[tuple[UUID, int]]) -> list[DatasetInput]:
        """The pinned versions ``inputs`` (a job's), in one query; as :meth:`dataset` for
        one that is gone."""
        wanted = [pair for pair in dict.fromkeys(inputs) if pair not in self._found]
        if wanted:
            async with self._db.transaction(str(self._workspace)) as conn:
                rows = await conn.fetch(
                    "SELECT v.dataset_id, v.version, v.object_key, v.columns, v.row_count, "
                    "v.size_bytes "
                    "FROM dataset_versions v JOIN unnest($1::uuid[], $2::int[]) AS w(d, n) "
                    "ON v.dataset_id = w.d AND v.version = w.n",
                    [d for d, _ in wanted],
                    [n for _, n in wanted],
                )
            for row in rows:
                self._remember(row["dataset_id"], row["version"], row)
        return [self._found.get(pair) or await self.dataset(*pair) for pair in inputs]

    def _remember(self, dataset: UUID, version: int | None, row: Any) -> DatasetInput:
        found = DatasetInput(
            dataset=dataset,
            version=row["version"],
            object_key=row["object_key"],
            columns=[ColumnInfo(**c) for c in json.loads(row["columns"])],
            row_count=row["row_count"],
            size_bytes=row["size_bytes"],
        )
        self._found[(dataset, version)] = self._found[(dataset, found.version)] = found
        return found
