"""Read any data source as an Arrow table, or just its columns."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pyarrow as pa

from rivergen.connectors.config import ColumnInfo, HttpCsvSource, PostgresSource, S3Source
from rivergen.connectors.http import fetch
from rivergen.connectors.postgres import read_postgres
from rivergen.connectors.s3 import read_s3
from rivergen.connectors.tables import parse
from rivergen.errors import BadRequest, PayloadTooLarge
from rivergen.settings import Settings

AnySource = PostgresSource | S3Source | HttpCsvSource


async def _read(
    config: AnySource, settings: Settings, rows: int, workspace_id: UUID | None
) -> pa.Table:
    """At least the first ``rows`` rows where the source has them (possibly more)."""
    if isinstance(config, PostgresSource):
        return await read_postgres(config, settings.connectors, rows)
    if isinstance(config, S3Source):
        return await read_s3(config, settings, rows, workspace_id)
    data = await fetch(config.url, settings.connectors)
    return await asyncio.to_thread(parse, data, "csv", config.url)


async def read_source(
    config: AnySource,
    settings: Settings,
    *,
    limit: int | None = None,
    workspace_id: UUID | None = None,
) -> pa.Table:
    """The source as one Arrow table.

    ``limit``: the first ``limit`` rows (at most ``connectors.max_rows``, else 400
    ``limit_too_large``). Without it, the whole source, and a source of more than
    ``connectors.max_rows`` rows is 413 ``too_many_rows``. ``workspace_id`` is the workspace
    reading: an S3 source on the platform's credentials may read only that workspace's prefix
    (and none without it).
    """
    max_rows = settings.connectors.max_rows
    if limit is not None and not 0 <= limit <= max_rows:
        raise BadRequest(
            f"limit must be between 0 and {max_rows}",
            code="limit_too_large" if limit > max_rows else "invalid_limit",
        )
    wanted = max_rows + 1 if limit is None else limit
    table = await _read(config, settings, wanted, workspace_id)
    if limit is None and table.num_rows > max_rows:
        raise PayloadTooLarge(
            f"the source has more than {max_rows} rows (RIVERGEN_CONNECTORS__MAX_ROWS)",
            code="too_many_rows",
            details={"max_rows": max_rows},
        )
    return table.slice(0, wanted) if table.num_rows > wanted else table


def columns_of(schema: pa.Schema) -> list[ColumnInfo]:
    return [ColumnInfo(name=f.name, type=str(f.type), nullable=f.nullable) for f in schema]


async def discover_schema(
    config: AnySource, settings: Settings, *, workspace_id: UUID | None = None
) -> list[ColumnInfo]:
    """The source's columns as they read into Arrow (name, Arrow type, nullable). Postgres
    answers from the query's description; files are read (within the size limits) so that
    their types are inferred from the data, and every S3 object is read so that their schemas
    are unified as a read would."""
    table = await _read(config, settings, 0, workspace_id)
    return columns_of(table.schema)
