"""Data Staging: files become versioned Parquet datasets, and datasets become Arrow tables in
the Ray object store for compute.

Every task reads and writes object storage itself (``pyarrow.fs``), so file bytes never travel
through the Serve replica that asked for the work.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import pyarrow as pa
import pyarrow.parquet as pq
import ray
from pydantic import BaseModel

from compute.objects import PARQUET_LAYOUT, ArrowObjects
from compute.profiling import check_rules, profile_table
from compute.tasks import outcome, require_ray
from rivergen.datasets.formats import ParseOptions, parse
from rivergen.datasets.schemas import ColumnInfo, Preview, StagedVersion, columns_of
from rivergen.engine.duck import ParquetFile, Relation
from rivergen.jsonvalues import json_value
from rivergen.quality import DatasetProfile, Rule, RuleResult
from rivergen.services.governance import Governed, apply_to_table, changes_data, hash_key
from rivergen.settings import Settings

# Staging parses one file per task: half a core leaves room on a 2-core machine for the Serve
# replicas, whose fractional CPUs are reserved too.
STAGING_CPUS = 0.5


def _addressable(table: pa.Table) -> pa.Table:
    """Column names unique and non-empty, to be addressable later."""
    names = [name or f"column_{i + 1}" for i, name in enumerate(table.column_names)]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            seen[name] += 1
            names[i] = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
    return table.rename_columns(names)


def _write(objects: ArrowObjects, table: pa.Table, target_key: str) -> tuple[int, pa.Table]:
    table = _addressable(table)
    return objects.write_parquet(target_key, table), table


def stage_file(
    settings: Settings,
    source_key: str,
    name: str,
    content_type: str | None,
    options: ParseOptions,
    target_key: str,
) -> StagedVersion:
    """Parse one stored file and write it as the Parquet object ``target_key``."""
    objects = ArrowObjects.from_settings(settings)
    parsed = parse(objects.read_bytes(source_key), name, content_type, options)
    size, table = _write(objects, parsed.table, target_key)
    return StagedVersion(
        object_key=target_key,
        source_format=parsed.format,
        row_count=table.num_rows,
        size_bytes=size,
        columns=columns_of(table.schema),
        invalid_row_count=parsed.invalid_row_count,
        invalid_rows=parsed.invalid_rows,
        read_as=parsed.read_as,
    )


def stage_table(settings: Settings, table: pa.Table, target_key: str) -> StagedVersion:
    """Write a table read from a data source as the Parquet object ``target_key``."""
    staged, store = encode_table(settings, table, target_key)
    store()
    return staged


def encode_table(
    settings: Settings, table: pa.Table, target_key: str
) -> tuple[StagedVersion, Callable[[], None]]:
    """A table encoded as the Parquet object ``target_key`` will be, and the call that stores
    it there (until it returns, the object does not exist)."""
    objects = ArrowObjects.from_settings(settings)
    table = _addressable(table)
    encoded = objects.encode_parquet(table)
    staged = StagedVersion(
        object_key=target_key,
        source_format="table",
        row_count=table.num_rows,
        size_bytes=encoded.size,
        columns=columns_of(table.schema),
    )
    return staged, lambda: objects.put_encoded(target_key, encoded)


class QueryInput(BaseModel):
    """One input of a query's task, read by :func:`read_dataset` in the task: where it is,
    and how its reader may see it."""

    relation: str
    name: str | None = None
    dataset: UUID
    key: str
    columns: list[str] | None = None
    governed: Governed | None = None


def read_dataset(
    settings: Settings,
    key: str,
    columns: list[str] | None = None,
    governed: Governed | None = None,
) -> pa.Table:
    """A dataset version as one Arrow table (the task's return value lands in the object
    store), as ``governed`` lets its caller see it (rows filtered, columns masked, denied
    columns gone: of ``columns``, those left)."""
    objects = ArrowObjects.from_settings(settings)
    if governed is None or not changes_data(governed):
        return objects.read_parquet(key, columns)
    # Row filters may name columns the caller did not ask for: filter the whole table first.
    table = apply_to_table(objects.read_parquet(key), governed, hash_key(settings, governed))
    if columns is None:
        return table
    return table.select([c for c in columns if c in table.column_names])


def query_input(settings: Settings, item: QueryInput) -> Relation:
    """An input of a query as the engine scans it: governed data (a policy changes it for the
    reader) as the table its reader may see, read here; otherwise the stored Parquet itself,
    scanned by the engine with projections and filters pushed down (a local object as the one
    file the engine may open; an S3 one copied once to this node's cache of immutable
    objects, then the same)."""
    if item.governed is not None and changes_data(item.governed):
        return read_dataset(settings, item.key, item.columns, item.governed)
    objects = ArrowObjects.from_settings(settings)
    engine = settings.engine
    cache = str(engine.cache_dir or os.path.join(tempfile.gettempdir(), "rivergen-engine-cache"))
    return ParquetFile(objects.local_file(item.key, cache, engine.cache_mb * 1024 * 1024))


def export_governed(settings: Settings, key: str, governed: Governed) -> tuple[bytes, int]:
    """A version as ``governed`` lets its caller see it, as Parquet bytes, and its rows: at
    most ``max_rows`` of them when a row limit caps what the caller takes."""
    table = read_dataset(settings, key, None, governed)
    if governed.max_rows is not None and table.num_rows > governed.max_rows:
        table = table.slice(0, governed.max_rows)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **PARQUET_LAYOUT)
    return sink.getvalue().to_pybytes(), table.num_rows


def preview(
    settings: Settings, key: str, version: int, limit: int, governed: Governed | None
) -> Preview:
    if governed is not None and governed.max_rows is not None:
        limit = min(limit, governed.max_rows)
    if governed is not None and changes_data(governed):
        table = read_dataset(settings, key, None, governed)
        # (Never past the end: Arrow's slice of a table whose columns are all denied would
        # count rows that are not there.)
        page = table.slice(0, min(limit, table.num_rows)).to_pylist()
        shown = [{k: json_value(v) for k, v in r.items()} for r in page]
        return Preview(
            version=version,
            columns=columns_of(table.schema),
            rows=shown,
            row_count=table.num_rows,
        )
    objects = ArrowObjects.from_settings(settings)
    with objects.filesystem.open_input_file(objects.path(key)) as handle:
        parquet = pq.ParquetFile(handle)
        rows: list[dict[str, Any]] = []
        for batch in parquet.iter_batches(batch_size=max(limit, 1)):
            rows = [{k: json_value(v) for k, v in r.items()} for r in batch.to_pylist()[:limit]]
            break
        return Preview(
            version=version,
            columns=columns_of(parquet.schema_arrow),
            rows=rows,
            row_count=parquet.metadata.num_rows,
        )


def delete_objects(settings: Settings, keys: list[str]) -> None:
    objects = ArrowObjects.from_settings(settings)
    for key in keys:
        objects.delete(key)


_stage_file = ray.remote(num_cpus=STAGING_CPUS, max_retries=0)(stage_file)
_stage_table = ray.remote(num_cpus=STAGING_CPUS, max_retries=0)(stage_table)
_read_dataset = ray.remote(num_cpus=STAGING_CPUS)(read_dataset)
_preview = ray.remote(num_cpus=0.1)(preview)
_export_governed = ray.remote(num_cpus=STAGING_CPUS)(export_governed)
_delete_objects = ray.remote(num_cpus=0.1)(delete_objects)


class RayDatasetCompute:
    """The dataset registry's compute port (:class:`rivergen.datasets.DatasetCompute`) on Ray:
    each call is one task on the cluster."""

    @property
    def settings(self) -> Settings:
        return self._settings

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def stage_file(
        self,
        source_key: str,
        name: str,
        content_type: str | None,
        options: ParseOptions,
        target_key: str,
    ) -> StagedVersion:
        require_ray()
        ref = _stage_file.remote(
            self._settings, source_key, name, content_type, options, target_key
        )
        staged: StagedVersion = await outcome(ref)
        return staged

    async def stage_table(self, table: pa.Table, target_key: str) -> StagedVersion:
        require_ray()
        ref = _stage_table.remote(self._settings, table, target_key)
        staged: StagedVersion = await outcome(ref)
        return staged

    def load(
        self, key: str, columns: list[str] | None = None, governed: Governed | None = None
    ) -> Any:
        """Stage a version into the Ray object store: the reference compute tasks take
        (governed in the task that reads it, when ``governed`` is given)."""
        require_ray()
        return _read_dataset.remote(self._settings, key, columns, governed)

    async def preview(
        self, key: str, version: int, limit: int, governed: Governed | None = None
    ) -> Preview:
        require_ray()
        result: Preview = await outcome(
            _preview.remote(self._settings, key, version, limit, governed)
        )
        return result

    async def export(self, key: str, governed: Governed) -> tuple[bytes, int]:
        require_ray()
        exported: tuple[bytes, int] = await outcome(
            _export_governed.remote(self._settings, key, governed)
        )
        return exported

    async def delete(self, keys: list[str]) -> None:
        require_ray()
        await outcome(_delete_objects.remote(self._settings, keys))

    async def profile(self, key: str, governed: Governed | None = None) -> DatasetProfile:
        return await profile_table(self.load(key, None, governed))

    async def check_rules(
        self,
        key: str,
        rules: Sequence[Rule],
        now: datetime,
        sample_size: int,
        governed: Governed | None = None,
    ) -> list[RuleResult]:
        return await check_rules(
            self.load(key, None, governed), rules, now=now, sample_size=sample_size
        )


__all__ = ["ColumnInfo", "RayDatasetCompute", "read_dataset", "stage_file", "stage_table"]
