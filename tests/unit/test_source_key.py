"""A data source's key: the same for one source written otherwise (case, default port,
fragment, credentials), another for other data."""

from __future__ import annotations

from typing import Any

from rivergen.connectors.config import SOURCE_CONFIG, source_key


def key(**config: Any) -> str:
    return source_key(SOURCE_CONFIG.validate_python(config))


def test_one_source_written_otherwise_has_one_key() -> None:
    csv = key(kind="http_csv", url="http://example.com/data/products.csv")
    assert csv.startswith("data_source:")
    for alike in (
        "HTTP://Example.COM:80/data/products.csv#top",
        "http://example.com/data/%70roducts.csv",
    ):
        assert key(kind="http_csv", url=alike) == csv
    assert key(kind="http_csv", url="https://example.com/data/products.csv") != csv
    assert key(kind="http_csv", url="http://example.com/data/products.csv?v=2") != csv

    pg = key(kind="postgres", dsn="postgresql://alice:secret@DB.example.com/shop", table="Orders")
    assert pg == key(
        kind="postgres",
        dsn="postgresql://bob:other@db.example.com:5432/shop",
        table="public.orders",
    )
    assert pg != key(
        kind="postgres", dsn="postgresql://alice:x@db.example.com/shop", table="customers"
    )
    assert pg != key(
        kind="postgres", dsn="postgresql://alice:x@db.example.com/other", table="orders"
    )
    query = "SELECT id FROM orders"
    assert key(kind="postgres", dsn="postgresql://a:b@h/shop", query=query) == key(
        kind="postgres", dsn="postgresql://c:d@h/shop", query="  SELECT id\n FROM orders; "
    )

    s3 = key(kind="s3", bucket="raw-data", prefix="/exports/2024/", format="csv")
    assert s3 == key(
        kind="s3",
        bucket="raw-data",
        prefix="exports/2024/",
        format="parquet",
        access_key_id="AKIA",
        secret_access_key="s",
    )
    assert s3 != key(kind="s3", bucket="raw-data", prefix="exports/2025/", format="csv")
    assert s3 != key(
        kind="s3",
        bucket="raw-data",
        prefix="exports/2024/",
        format="csv",
        endpoint_url="https://minio.example.com",
    )
