"""Connectors: data sources a workspace registers (Postgres, S3, CSV over HTTP), their schema,
and reading one as an Arrow table.

    config = SOURCE_CONFIG.validate_python({"kind": "http_csv", "url": "https://..."})
    columns = await discover_schema(config, settings)
    table = await read_source(config, settings, limit=1000)

Every network destination a source names must be public unless an admin allow-listed it
(``RIVERGEN_CONNECTORS__*_ALLOW_HOSTS``); see :mod:`rivergen.connectors.addresses`.
"""

from rivergen.connectors.config import (
    SOURCE_CONFIG,
    ColumnInfo,
    HttpCsvSource,
    PostgresSource,
    S3Source,
    SourceConfig,
    redacted,
)
from rivergen.connectors.read import AnySource, discover_schema, read_source

__all__ = [
    "SOURCE_CONFIG",
    "AnySource",
    "ColumnInfo",
    "HttpCsvSource",
    "PostgresSource",
    "S3Source",
    "SourceConfig",
    "discover_schema",
    "read_source",
    "redacted",
]
