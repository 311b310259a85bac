"""A job's result as Parquet: written once under the job's own key, read back page by page."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import ray

from compute.objects import ArrowObjects
from compute.staging import STAGING_CPUS, stage_table
from rivergen.datasets.schemas import ColumnInfo, columns_of
from rivergen.jsonvalues import json_value
from rivergen.services.governance import Governed, apply_to_table, hash_key
from rivergen.settings import Settings


def read_rows(
    settings: Settings, key: str, offset: int, limit: int, governed: Governed | None = None
) -> tuple[list[ColumnInfo], list[dict[str, Any]], int]:
    """Rows ``offset`` to ``offset + limit`` of a Parquet object (reading only the row groups
    that hold them), its columns and its row count; with ``governed``, masked columns masked
    and denied ones dropped (with row filters, pages and count are of the rows it shows)."""
    objects = ArrowObjects.from_settings(settings)
    key_of_masks = hash_key(settings, governed)
    if governed is not None and governed.row_filters:
        # Which rows a reader sees decides the pages and the count: filter the whole result.
        shown = apply_to_table(objects.read_parquet(key), governed, key_of_masks)
        page = shown.slice(offset, limit)
        rows = [{k: json_value(v) for k, v in r.items()} for r in page.to_pylist()]
        return columns_of(shown.schema), rows, shown.num_rows
    with objects.filesystem.open_input_file(objects.path(key)) as handle:
        parquet = pq.ParquetFile(handle)
        total = parquet.metadata.num_rows
        schema = parquet.schema_arrow
        if governed is not None:
            schema = apply_to_table(schema.empty_table(), governed, key_of_masks).schema
        columns = columns_of(schema)
        groups: list[int] = []
        first = 0  # the first row of the first group read
        start = 0
        for i in range(parquet.num_row_groups):
            count = parquet.metadata.row_group(i).num_rows
            if start + count > offset and start < offset + limit:
                if not groups:
                    first = start
                groups.append(i)
            start += count
        if not groups:
            return columns, [], total
        table: pa.Table = parquet.read_row_groups(groups)
    page = table.slice(offset - first, limit)
    if governed is not None:
        page = apply_to_table(page, governed, key_of_masks)
    rows = page.to_pylist()
    return columns, [{k: json_value(v) for k, v in r.items()} for r in rows], total


stage_result = ray.remote(num_cpus=STAGING_CPUS, max_retries=0)(stage_table)
read_rows_task = ray.remote(num_cpus=0.1)(read_rows)
