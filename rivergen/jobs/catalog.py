"""The dataset registry as job kinds see it while validating: one workspace, and a missing
dataset is a parameter error (422), not a missing resource."""

from __future__ import annotations

import json
from uuid import UUID

from rivergen.datasets import store as datasets
from rivergen.datasets.schemas import ColumnInfo
from rivergen.db import Database
from rivergen.errors import ValidationFailed
from rivergen.jobs.schemas import DatasetInput


class DatasetCatalog:
    """:class:`rivergen.jobs.kinds.Catalog` over the registry's tables."""

    def __init__(self, db: Database, workspace: UUID) -> None:
        self._db = db
        self._workspace = workspace

    async def dataset(self, dataset: UUID, version: int | None) -> DatasetInput:
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
        return DatasetInput(
            dataset=dataset, version=row["version"], object_key=row["object_key"],
            columns=[ColumnInfo(**c) for c in json.loads(row["columns"])],
            row_count=row["row_count"],
        )  # fmt: skip
