"""Read a Postgres table or read-only query into Arrow, with asyncpg on a connection of its own.

Types: int2/int4/int8 -> int16/int32/int64, float4/float8 -> float32/float64, ``numeric`` ->
float64 (Postgres numeric has no fixed scale, and the catalog and compute work in floats; digits
past ~15 significant are lost), text/varchar/char/name -> string, bool -> bool, timestamp ->
timestamp[us], timestamptz -> timestamp[us, tz=UTC], date -> date32, time -> time64[us], bytea
-> binary; anything else (uuid, json, interval, arrays, ...) -> its text form as string.
NULLs stay nulls.

Every read runs in a READ ONLY transaction with ``statement_timeout``; the connection goes to
the one address that was checked (see :mod:`rivergen.connectors.addresses`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import asyncpg
import pyarrow as pa

from rivergen.connectors.addresses import check_destination
from rivergen.connectors.config import PostgresSource
from rivergen.connectors.pgdsn import parse_dsn
from rivergen.connectors.sql import QueryRefused, check_read_only_query, qualified_table
from rivergen.errors import BadRequest, Forbidden
from rivergen.settings import ConnectorSettings

_ARROW_TYPES: dict[str, pa.DataType] = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "oid": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "numeric": pa.float64(),
    "bool": pa.bool_(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "bytea": pa.binary(),
}


def arrow_type(pg_type: str) -> pa.DataType:
    """The Arrow type a column of Postgres type ``pg_type`` (``pg_type.typname``) reads as."""
    return _ARROW_TYPES.get(pg_type, pa.string())


def _converter(pg_type: str) -> Callable[[Any], Any]:
    if pg_type == "numeric":
        return lambda v: float(v) if isinstance(v, Decimal) else v
    if pg_type not in _ARROW_TYPES:
        return str
    return lambda v: v


def _column(rows: Sequence[asyncpg.Record], index: int, pg_type: str) -> pa.Array:
    convert = _converter(pg_type)
    values = [None if (v := row[index]) is None else convert(v) for row in rows]
    return pa.array(values, type=arrow_type(pg_type))


async def _connect(config: PostgresSource, settings: ConnectorSettings) -> asyncpg.Connection:
    dsn = config.dsn.get_secret_value()
    parsed = parse_dsn(dsn)
    destination = await check_destination(parsed.host, parsed.port, settings.postgres_allow_hosts)
    try:
        # host= overrides the DSN's host: the checked address, not a second resolution.
        return await asyncpg.connect(
            dsn,
            host=destination.address,
            port=parsed.port,
            timeout=settings.postgres_connect_timeout_s,
            command_timeout=settings.postgres_statement_timeout_s + 5,
            statement_cache_size=0,
        )
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise Forbidden("the source refused the credentials", code="source_auth_failed") from exc
    except asyncpg.InvalidCatalogNameError as exc:
        raise BadRequest("the source database does not exist", code="source_not_found") from exc
    except (OSError, TimeoutError, asyncpg.PostgresConnectionError) as exc:
        raise BadRequest(
            f"the source database did not answer: {type(exc).__name__}",
            code="source_unreachable",
        ) from exc


def _source_sql(config: PostgresSource) -> str:
    if config.table is not None:
        return f"SELECT * FROM {qualified_table(config.table)}"
    assert config.query is not None
    return check_read_only_query(config.query)


async def _not_null_columns(conn: asyncpg.Connection, table: str) -> set[str]:
    rows = await conn.fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 "
        "AND NOT attisdropped AND attnotnull",
        table,
    )
    return {row["attname"] for row in rows}


async def _fetch(
    conn: asyncpg.Connection, config: PostgresSource, rows: int, timeout_s: float
) -> pa.Table:
    sql = f"SELECT * FROM ({_source_sql(config)}) AS source LIMIT {int(rows)}"
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        await conn.execute(
            "SELECT set_config('statement_timeout', $1, true)", f"{int(timeout_s * 1000)}ms"
        )
        statement = await conn.prepare(sql)
        attributes = statement.get_attributes()
        records = await statement.fetch()
        not_null = (
            await _not_null_columns(conn, qualified_table(config.table)) if config.table else set()
        )
    fields = [
        pa.field(a.name, arrow_type(a.type.name), nullable=a.name not in not_null)
        for a in attributes
    ]
    columns = [_column(records, i, a.type.name) for i, a in enumerate(attributes)]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


async def read_postgres(config: PostgresSource, settings: ConnectorSettings, rows: int) -> pa.Table:
    """At most ``rows`` rows of the source."""
    conn = await _connect(config, settings)
    try:
        return await _fetch(conn, config, rows, settings.postgres_statement_timeout_s)
    except asyncpg.ReadOnlySQLTransactionError as exc:
        raise QueryRefused(f"only reading is allowed: {exc}") from exc
    except asyncpg.QueryCanceledError as exc:
        raise BadRequest(
            f"the query ran longer than {settings.postgres_statement_timeout_s} s",
            code="query_timeout",
        ) from exc
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError) as exc:
        raise BadRequest(f"the source has no such table: {exc}", code="source_not_found") from exc
    except asyncpg.InsufficientPrivilegeError as exc:
        raise Forbidden(f"the source refused: {exc}", code="source_access_denied") from exc
    except asyncpg.PostgresError as exc:
        raise BadRequest(f"the source query failed: {exc}", code="source_query_failed") from exc
    finally:
        await conn.close(timeout=5)
