"""What a data source is: one pydantic model per kind, told apart by ``kind``.

Secrets (a DSN's password, S3 keys) are ``SecretStr``: they are stored, used to connect, and
never shown (:func:`redacted` is what the API returns).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import quote, unquote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from rivergen.connectors.pgdsn import parse_dsn
from rivergen.connectors.sql import QueryRefused, check_read_only_query, table_select
from rivergen.errors import BadRequest


class PostgresSource(BaseModel):
    """A table or a read-only query in a Postgres database."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["postgres"] = "postgres"
    dsn: SecretStr = Field(
        description="postgresql://user:password@host:port/database (one host; never returned)."
    )
    table: str | None = Field(
        None, max_length=512, description="A table or view, optionally schema-qualified."
    )
    query: str | None = Field(
        None,
        max_length=100_000,
        description="One read-only SELECT (run in a READ ONLY transaction with a timeout).",
    )

    @field_validator("dsn")
    @classmethod
    def _dsn_has_one_host(cls, dsn: SecretStr) -> SecretStr:
        try:
            parse_dsn(dsn.get_secret_value())
        except BadRequest as exc:
            raise PydanticCustomError(exc.error_code, exc.message) from None
        return dsn

    @model_validator(mode="after")
    def _table_or_query(self) -> PostgresSource:
        if (self.table is None) == (self.query is None):
            raise PydanticCustomError("table_or_query", "give exactly one of `table` or `query`")
        try:
            if self.query is not None:
                check_read_only_query(self.query)
            else:
                assert self.table is not None
                table_select(self.table)
        except QueryRefused as exc:
            raise PydanticCustomError(exc.error_code, exc.message) from None
        return self


class S3Source(BaseModel):
    """Every object under a prefix of a bucket, Parquet or CSV, read as one table.

    Without access keys the platform's own credentials are used, and then only the platform's
    bucket under the workspace's own prefix (``workspaces/<workspace id>/``) may be read.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["s3"] = "s3"
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$")
    prefix: str = Field("", max_length=1024, description="Key prefix; every object under it.")
    format: Literal["parquet", "csv"]
    endpoint_url: str | None = Field(
        None, max_length=2048, description="S3 endpoint. Unset: the platform's."
    )
    region: str | None = Field(None, max_length=64, description="Unset: the platform's.")
    access_key_id: SecretStr | None = Field(None, description="Never returned.")
    secret_access_key: SecretStr | None = Field(None, description="Never returned.")

    @field_validator("endpoint_url")
    @classmethod
    def _http_endpoint(cls, url: str | None) -> str | None:
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise PydanticCustomError(
                    "scheme_not_allowed", "endpoint_url must be an http(s) URL with a host"
                )
        return url

    @model_validator(mode="after")
    def _both_keys_or_none(self) -> S3Source:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise PydanticCustomError(
                "incomplete_credentials",
                "give both access_key_id and secret_access_key, or neither",
            )
        return self

    @property
    def uses_platform_credentials(self) -> bool:
        return self.access_key_id is None


class HttpCsvSource(BaseModel):
    """A CSV file at an http(s) URL (public addresses only, unless allow-listed)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["http_csv"] = "http_csv"
    url: str = Field(max_length=2048, description="http:// or https:// URL of the CSV file.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise PydanticCustomError("scheme_not_allowed", "only http and https URLs are allowed")
        if not parts.hostname:
            raise PydanticCustomError("invalid_url", "the URL has no host")
        return url


SourceConfig = Annotated[PostgresSource | S3Source | HttpCsvSource, Field(discriminator="kind")]
SOURCE_CONFIG: TypeAdapter[PostgresSource | S3Source | HttpCsvSource] = TypeAdapter(SourceConfig)


class ColumnInfo(BaseModel):
    """One column of a source as it reads into Arrow."""

    name: str
    type: str = Field(description="The Arrow type, e.g. `int64`, `timestamp[us, tz=UTC]`.")
    nullable: bool


SECRET_FIELDS = frozenset({"dsn", "access_key_id", "secret_access_key"})


def to_storage(
    config: PostgresSource | S3Source | HttpCsvSource, seal: Callable[[str], str]
) -> dict[str, Any]:
    """The config for the database row, each secret passed through ``seal``."""
    data = config.model_dump(mode="python")
    for key, value in data.items():
        if isinstance(value, SecretStr):
            data[key] = seal(value.get_secret_value())
    return data


def redacted(config: PostgresSource | S3Source | HttpCsvSource) -> dict[str, Any]:
    """The config as the API shows it: a DSN's password masked, keys left out."""
    data = config.model_dump(mode="json", exclude={"access_key_id", "secret_access_key"})
    if isinstance(config, PostgresSource):
        data["dsn"] = parse_dsn(config.dsn.get_secret_value()).masked
    if isinstance(config, S3Source):
        data["credentials"] = "platform" if config.uses_platform_credentials else "own"
    return data


_DEFAULT_PORTS = {"http": 80, "https": 443}
_URL_SAFE = "/:@!$&'()*+,;=-._~"


def _normal_url(url: str) -> str:
    """An http(s) URL as one text for one address: scheme and host in lower case, no default
    port, no fragment, the path's percent-encoding made canonical."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    host = f"[{host}]" if ":" in host else host
    port = parts.port if parts.port not in (None, _DEFAULT_PORTS.get(scheme)) else None
    path = quote(unquote(parts.path or "/"), safe=_URL_SAFE)
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{host}{f':{port}' if port else ''}{path}{query}"


def _normal_sql(text: str) -> str:
    return " ".join(text.split()).rstrip(";").strip()


def source_key(config: PostgresSource | S3Source | HttpCsvSource) -> str:
    """What data a source reads, whatever its id, name or secrets: ``data_source:`` and the
    SHA-256 of its normalized non-secret config (a Postgres DSN's host, port and database with
    the table or query; an S3 endpoint, bucket and prefix; a CSV's URL). Two sources of one key
    are one source to governance (a copy of a governed source is governed as it)."""
    identity: dict[str, Any]
    if isinstance(config, PostgresSource):
        dsn = parse_dsn(config.dsn.get_secret_value())
        table = config.table.strip() if config.table is not None else None
        if table is not None and '"' not in table:
            table = table.lower().removeprefix("public.")
        identity = {
            "kind": "postgres",
            "host": dsn.host.lower().rstrip("."),
            "port": dsn.port,
            "database": dsn.database,
            "table": table,
            "query": _normal_sql(config.query) if config.query is not None else None,
        }
    elif isinstance(config, S3Source):
        endpoint = _normal_url(config.endpoint_url).rstrip("/") if config.endpoint_url else None
        identity = {
            "kind": "s3",
            "endpoint": endpoint,
            "bucket": config.bucket,
            "prefix": config.prefix.lstrip("/"),
        }
    else:
        identity = {"kind": "http_csv", "url": _normal_url(config.url)}
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return f"data_source:{hashlib.sha256(text.encode()).hexdigest()}"
