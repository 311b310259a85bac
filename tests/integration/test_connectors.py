"""Reading real data from each kind of source (the test Postgres, the test S3 server, an HTTP
server on the allow-list), and refusing every destination an attacker would aim at."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr, ValidationError

from rivergen.connectors import (
    SOURCE_CONFIG,
    HttpCsvSource,
    PostgresSource,
    S3Source,
    discover_schema,
    read_source,
)
from rivergen.errors import BadRequest, Forbidden, PayloadTooLarge, RiverGenError
from rivergen.settings import ConnectorSettings, Settings
from tests.integration.source_servers import (
    CSV_PORT,
    PRODUCTS_CSV,
    TRAP_PORT,
    Trap,
    csv_server,
    loopback_trap,
)

PRODUCTS = pacsv.read_csv(PRODUCTS_CSV)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def sources(migrated: Settings) -> Settings:
    """The platform settings, with the test Postgres and the CSV server allow-listed (both are
    on loopback, which sources may not reach otherwise)."""
    connectors = ConnectorSettings(
        http_allow_hosts=[f"127.0.0.1:{CSV_PORT}"],
        postgres_allow_hosts=["127.0.0.1:5432"],
        http_timeout_s=5,
        max_redirects=3,
    )
    return migrated.model_copy(update={"connectors": connectors})


def _with(settings: Settings, **changes: Any) -> Settings:
    connectors = settings.connectors.model_copy(update=changes)
    return settings.model_copy(update={"connectors": connectors})


@pytest.fixture(scope="module")
def dsn(migrated: Settings) -> str:
    assert migrated.postgres.migrate_dsn is not None
    return migrated.postgres.migrate_dsn.get_secret_value()


@pytest.fixture(scope="module")
async def northwind(dsn: str) -> AsyncIterator[str]:
    """Northwind's products in a schema of the test database, with a date, a timestamp and a
    nullable note added; and a function that writes (the parser cannot see that it does)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "DROP SCHEMA IF EXISTS northwind_src CASCADE; CREATE SCHEMA northwind_src; "
            "CREATE TABLE northwind_src.products (product_id integer PRIMARY KEY, "
            "product_name text NOT NULL, quantity_per_unit varchar(40), "
            "unit_price numeric(10, 2), units_in_stock smallint, discontinued boolean NOT NULL, "
            "released date, restocked_at timestamptz, note text); "
            "CREATE FUNCTION northwind_src.discount() RETURNS integer LANGUAGE sql AS "
            "'UPDATE northwind_src.products SET unit_price = 0 RETURNING 1';"
        )
        rows = [
            (
                p["productID"],
                p["productName"],
                p["quantityPerUnit"],
                Decimal(str(p["unitPrice"])),
                p["unitsInStock"],
                bool(p["discontinued"]),
                date(2020, 1, 1) + timedelta(i),
                EPOCH + timedelta(hours=i),
                "seasonal" if i % 10 == 0 else None,
            )
            for i, p in enumerate(PRODUCTS.to_pylist())
        ]
        await conn.copy_records_to_table("products", schema_name="northwind_src", records=rows)
        yield "northwind_src.products"
    finally:
        await conn.execute("DROP SCHEMA IF EXISTS northwind_src CASCADE")
        await conn.close()


async def test_postgres_table_reads_with_types(sources: Settings, dsn: str, northwind: str) -> None:
    config = PostgresSource(dsn=SecretStr(dsn), table=northwind)
    table = await read_source(config, sources)
    assert table.num_rows == 77
    schema = {f.name: (str(f.type), f.nullable) for f in table.schema}
    assert schema == {
        "product_id": ("int32", False),
        "product_name": ("string", False),
        "quantity_per_unit": ("string", True),
        "unit_price": ("double", True),
        "units_in_stock": ("int16", True),
        "discontinued": ("bool", False),
        "released": ("date32[day]", True),
        "restocked_at": ("timestamp[us, tz=UTC]", True),
        "note": ("string", True),
    }
    chai = table.filter(pc.equal(table["product_id"], 1)).to_pylist()[0]
    assert chai["product_name"] == "Chai" and chai["unit_price"] == 18.0
    assert chai["released"] == date(2020, 1, 1) and chai["restocked_at"] == EPOCH
    assert chai["note"] == "seasonal" and chai["discontinued"] is False
    assert table["note"].null_count == 77 - 8
    assert pc.sum(table["discontinued"].cast(pa.int64())).as_py() == 8
    columns = await discover_schema(config, sources)
    assert [(c.name, c.type, c.nullable) for c in columns][:2] == [
        ("product_id", "int32", False),
        ("product_name", "string", False),
    ]


async def test_postgres_query_reads_and_writes_are_refused(
    sources: Settings, dsn: str, northwind: str
) -> None:
    query = (
        "SELECT product_name, unit_price FROM northwind_src.products "
        "WHERE unit_price > 50 ORDER BY unit_price DESC"
    )
    table = await read_source(PostgresSource(dsn=SecretStr(dsn), query=query), sources)
    expected = PRODUCTS.filter(pc.greater(PRODUCTS["unitPrice"], 50))
    assert table.num_rows == expected.num_rows == 7
    assert table.slice(0, 1).to_pylist() == [{"product_name": "Côte de Blaye", "unit_price": 263.5}]
    preview = await read_source(
        PostgresSource(dsn=SecretStr(dsn), table=northwind), sources, limit=5
    )
    assert preview.num_rows == 5
    for sql in [
        "DELETE FROM northwind_src.products",
        "SELECT 1; DROP TABLE northwind_src.products",
    ]:
        with pytest.raises(ValidationError):
            PostgresSource(dsn=SecretStr(dsn), query=sql)
    # A write the parser cannot see (inside a function) meets the READ ONLY transaction.
    sneaky = PostgresSource.model_construct(
        kind="postgres",
        dsn=SecretStr(dsn),
        table=None,
        query="SELECT northwind_src.discount() AS d",
    )
    with pytest.raises(BadRequest) as refused:
        await read_source(sneaky, sources)
    assert refused.value.error_code == "query_not_read_only"
    # A query that skipped validation is checked again before it runs.
    unchecked = PostgresSource.model_construct(
        kind="postgres", dsn=SecretStr(dsn), table=None, query="DELETE FROM northwind_src.products"
    )
    with pytest.raises(BadRequest) as refused:
        await read_source(unchecked, sources)
    assert refused.value.error_code == "query_not_read_only"
    after = await read_source(PostgresSource(dsn=SecretStr(dsn), table=northwind), sources)
    assert after.num_rows == 77 and pc.min(after["unit_price"]).as_py() > 0


async def test_postgres_limits(sources: Settings, dsn: str, northwind: str) -> None:
    config = PostgresSource(dsn=SecretStr(dsn), table=northwind)
    with pytest.raises(PayloadTooLarge) as too_many:
        await read_source(config, _with(sources, max_rows=10))
    assert too_many.value.error_code == "too_many_rows"
    assert (await read_source(config, _with(sources, max_rows=10), limit=10)).num_rows == 10
    with pytest.raises(BadRequest) as too_large:
        await read_source(config, _with(sources, max_rows=10), limit=11)
    assert too_large.value.error_code == "limit_too_large"
    slow = PostgresSource(dsn=SecretStr(dsn), query="SELECT pg_sleep(3) AS s")
    with pytest.raises(BadRequest) as timed_out:
        await read_source(slow, _with(sources, postgres_statement_timeout_s=0.2))
    assert timed_out.value.error_code == "query_timeout"
    # Not allow-listed: the test Postgres is on loopback.
    with pytest.raises(Forbidden) as refused:
        await read_source(config, _with(sources, postgres_allow_hosts=[]))
    assert refused.value.error_code == "destination_not_allowed"


# S3 -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3(migrated: Settings) -> Iterator[Any]:
    assert migrated.s3.access_key_id and migrated.s3.secret_access_key
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=migrated.s3.endpoint_url,
        region_name=migrated.s3.region,
        aws_access_key_id=migrated.s3.access_key_id.get_secret_value(),
        aws_secret_access_key=migrated.s3.secret_access_key.get_secret_value(),
    )
    yield client
    client.close()


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _csv(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()


def _own_keys(sources: Settings, **config: Any) -> S3Source:
    assert sources.s3.bucket is not None
    return S3Source.model_validate(
        {"bucket": sources.s3.bucket, "access_key_id": "reader", "secret_access_key": "secret"}
        | config
    )


async def test_s3_parquet_and_csv_under_a_prefix(sources: Settings, s3: Any) -> None:
    bucket, prefix = sources.s3.bucket, f"connector-tests/{uuid.uuid4()}/"
    first, second = PRODUCTS.slice(0, 40), PRODUCTS.slice(40)
    s3.put_object(Bucket=bucket, Key=f"{prefix}parquet/part-1.parquet", Body=_parquet(first))
    s3.put_object(Bucket=bucket, Key=f"{prefix}parquet/part-2.parquet", Body=_parquet(second))
    s3.put_object(Bucket=bucket, Key=f"{prefix}parquet/_empty/", Body=b"")
    s3.put_object(Bucket=bucket, Key=f"{prefix}csv/a.csv", Body=_csv(first))
    s3.put_object(Bucket=bucket, Key=f"{prefix}csv/b.csv", Body=_csv(second))

    parquet = await read_source(
        _own_keys(sources, prefix=f"{prefix}parquet/", format="parquet"), sources
    )
    assert parquet.num_rows == 77 and parquet.schema == PRODUCTS.schema
    assert parquet.sort_by("productID")["productName"][0].as_py() == "Chai"
    csv = await read_source(_own_keys(sources, prefix=f"{prefix}csv/", format="csv"), sources)
    assert csv.num_rows == 77
    assert pc.sum(csv["unitsInStock"]).as_py() == pc.sum(PRODUCTS["unitsInStock"]).as_py()
    columns = await discover_schema(
        _own_keys(sources, prefix=f"{prefix}csv/", format="csv"), sources
    )
    assert ("unitPrice", "double") in [(c.name, c.type) for c in columns]
    preview = await read_source(
        _own_keys(sources, prefix=f"{prefix}csv/", format="csv"), sources, limit=3
    )
    assert preview.num_rows == 3

    # Schemas that cannot unify are a clear error naming the files.
    s3.put_object(Bucket=bucket, Key=f"{prefix}csv/c.csv", Body=b"productID,productName\nx-1,Odd\n")
    with pytest.raises(BadRequest) as mismatch:
        await read_source(_own_keys(sources, prefix=f"{prefix}csv/", format="csv"), sources)
    assert mismatch.value.error_code == "schema_mismatch"
    assert mismatch.value.details["objects"][1].endswith("c.csv")
    with pytest.raises(PayloadTooLarge) as too_large:
        await read_source(
            _own_keys(sources, prefix=f"{prefix}parquet/", format="parquet"),
            _with(sources, s3_max_bytes=100),
        )
    assert too_large.value.error_code == "source_too_large"
    with pytest.raises(BadRequest) as empty:
        await read_source(_own_keys(sources, prefix=f"{prefix}none/", format="csv"), sources)
    assert empty.value.error_code == "source_empty"


async def test_s3_platform_credentials_reach_only_the_workspace_prefix(
    sources: Settings, s3: Any
) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    bucket = sources.s3.bucket
    assert bucket is not None
    s3.put_object(
        Bucket=bucket, Key=f"workspaces/{mine}/exports/p.parquet", Body=_parquet(PRODUCTS)
    )
    own = S3Source(bucket=bucket, prefix=f"workspaces/{mine}/exports/", format="parquet")
    assert (await read_source(own, sources, workspace_id=mine)).num_rows == 77
    for workspace, config in [
        (theirs, own),  # another workspace's prefix
        (None, own),  # no workspace at all
        (mine, S3Source(bucket=bucket, prefix="workspaces/", format="parquet")),
        (mine, S3Source(bucket="another-bucket", prefix=f"workspaces/{mine}/", format="csv")),
    ]:
        with pytest.raises(Forbidden) as refused:
            await read_source(config, sources, workspace_id=workspace)
        assert refused.value.error_code == "destination_not_allowed"
    # An endpoint of the source's own on loopback is refused unless allow-listed.
    assert sources.s3.endpoint_url is not None
    port = sources.s3.endpoint_url.rsplit(":", 1)[1]
    aliased = _own_keys(
        sources,
        prefix=f"workspaces/{mine}/exports/",
        format="parquet",
        endpoint_url=f"http://localhost:{port}",
    )
    with pytest.raises(Forbidden) as refused:
        await read_source(aliased, sources)
    assert refused.value.error_code == "destination_not_allowed"


# HTTP ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_base() -> Iterator[str]:
    with csv_server() as base:
        yield base


@pytest.fixture
def trap() -> Iterator[Trap]:
    with loopback_trap() as listening:
        yield listening


async def test_http_csv_from_an_allow_listed_server(sources: Settings, http_base: str) -> None:
    table = await read_source(HttpCsvSource(url=f"{http_base}/products.csv"), sources)
    assert table.num_rows == 77 and table.column_names == PRODUCTS.column_names
    assert table["productName"][0].as_py() == "Chai" and table["unitPrice"][37].as_py() == 263.5
    via_redirect = await read_source(HttpCsvSource(url=f"{http_base}/to-products"), sources)
    assert via_redirect.equals(table)
    with pytest.raises(PayloadTooLarge) as too_large:
        await read_source(
            HttpCsvSource(url=f"{http_base}/products.csv"), _with(sources, http_max_bytes=1000)
        )
    assert too_large.value.error_code == "source_too_large"
    with pytest.raises(BadRequest) as missing:
        await read_source(HttpCsvSource(url=f"{http_base}/nothing.csv"), sources)
    assert missing.value.error_code == "source_http_error"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        (f"http://127.0.0.1:{TRAP_PORT}/", "destination_not_allowed"),
        (f"http://[::1]:{TRAP_PORT}/", "destination_not_allowed"),
        (f"http://0.0.0.0:{TRAP_PORT}/", "destination_not_allowed"),
        (f"http://localhost:{TRAP_PORT}/", "destination_not_allowed"),
        (f"http://127.1:{TRAP_PORT}/", "destination_not_allowed"),
        (f"http://[::ffff:127.0.0.1]:{TRAP_PORT}/", "destination_not_allowed"),
        ("http://10.0.0.1/", "destination_not_allowed"),
        ("http://169.254.169.254/latest/meta-data/", "destination_not_allowed"),
        ("file:///etc/passwd", "scheme_not_allowed"),
        ("ftp://127.0.0.1/data.csv", "scheme_not_allowed"),
        ("gopher://127.0.0.1:70/", "scheme_not_allowed"),
        ("/to-loopback", "destination_not_allowed"),
        ("/to-localhost", "destination_not_allowed"),
        ("/to-metadata", "destination_not_allowed"),
        ("/to-file", "scheme_not_allowed"),
        ("/loop", "too_many_redirects"),
    ],
)
async def test_ssrf_destinations_are_refused_without_a_connection(
    sources: Settings, http_base: str, trap: Trap, url: str, code: str
) -> None:
    target = f"{http_base}{url}" if url.startswith("/") else url
    # The config model refuses bad schemes first; the fetch refuses them again.
    config = HttpCsvSource.model_construct(kind="http_csv", url=target)
    with pytest.raises(RiverGenError) as refused:
        await read_source(config, sources)
    assert refused.value.error_code == code
    assert refused.value.status in (400, 403)
    assert trap.connections() == 0
    if not url.startswith("/") and url.startswith("http"):
        assert SOURCE_CONFIG.validate_python({"kind": "http_csv", "url": target})


async def test_the_trap_would_see_a_connection_that_was_allowed(
    sources: Settings, trap: Trap
) -> None:
    """The control for the test above: allow-listed, the same loopback port is reached."""
    allowed = _with(sources, http_allow_hosts=[f"127.0.0.1:{TRAP_PORT}"], http_timeout_s=0.3)
    with pytest.raises(BadRequest) as silent:
        await read_source(HttpCsvSource(url=f"http://127.0.0.1:{TRAP_PORT}/"), allowed)
    assert silent.value.error_code == "source_timeout"
    assert trap.connections() == 1
