"""A dataset version downloaded as Parquet, as scripts read it: a presigned URL on S3, the
platform's own content route (with the caller's credentials) for the embedded store."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from rivergen.settings import S3Settings, Settings
from tests.conftest import SHARED_DATA
from tests.integration.api_client import Account, register
from tests.integration.ray_cluster import ray_local
from tests.platform_app import create_app

SHIPPERS = SHARED_DATA / "northwind" / "shippers.csv"
pytestmark = pytest.mark.usefixtures("ray_local")
__all__ = ["ray_local"]


async def gateway(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw", timeout=60) as c:
            yield c


@pytest.fixture
async def s3_client(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for client in gateway(migrated):
        yield client


@pytest.fixture
async def local_client(migrated: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    local = migrated.model_copy(update={"s3": S3Settings(), "data_dir": tmp_path})
    async for client in gateway(local):
        yield client


async def shippers_dataset(client: httpx.AsyncClient, owner: Account) -> str:
    uploaded = await client.post(
        "/api/v1/storage/upload",
        files={"file": ("shippers.csv", SHIPPERS.read_bytes(), "text/csv")},
        headers=owner.headers(),
    )
    assert uploaded.status_code == 201, uploaded.text
    made = await client.post(
        "/api/v1/datasets",
        json={"name": "shippers", "file_id": uploaded.json()["id"]},
        headers=owner.headers(),
    )
    assert made.status_code == 201, made.text
    dataset: str = made.json()["id"]
    return dataset


async def test_s3_download_is_a_presigned_url_of_one_hour(s3_client: httpx.AsyncClient) -> None:
    owner, other = await register(s3_client, "owner"), await register(s3_client, "other")
    dataset = await shippers_dataset(s3_client, owner)
    path = f"/api/v1/datasets/{dataset}/versions/1/download"
    before = datetime.now(UTC)
    response = await s3_client.get(path, headers=owner.headers())
    assert response.status_code == 200, response.text
    body = response.json()
    expected = pacsv.read_csv(SHIPPERS)
    assert body["row_count"] == expected.num_rows and body["size_bytes"] > 0
    assert body["credentials_required"] is False
    expires = datetime.fromisoformat(body["expires_at"])
    assert before + timedelta(minutes=59) < expires <= datetime.now(UTC) + timedelta(hours=1)
    # moto does not expire presigned URLs: the signed parameters say it.
    assert parse_qs(urlsplit(body["url"]).query)["X-Amz-Expires"] == ["3600"]
    async with httpx.AsyncClient(timeout=30) as plain:
        parquet = await plain.get(body["url"])
    assert parquet.status_code == 200
    assert pq.read_table(io.BytesIO(parquet.content)).equals(expected)
    # The platform does not relay S3's bytes: its content route is the embedded store's.
    relayed = await s3_client.get(
        f"/api/v1/datasets/{dataset}/versions/1/content", headers=owner.headers()
    )
    assert relayed.status_code == 404

    for who, version, code in [
        (other, 1, "dataset_not_found"),
        (owner, 2, "dataset_version_not_found"),
    ]:
        refused = await s3_client.get(
            f"/api/v1/datasets/{dataset}/versions/{version}/download", headers=who.headers()
        )
        assert refused.status_code == 404 and refused.json()["error"]["code"] == code


async def test_local_store_download_is_the_platforms_route_with_credentials(
    local_client: httpx.AsyncClient,
) -> None:
    owner, other = await register(local_client, "owner"), await register(local_client, "other")
    dataset = await shippers_dataset(local_client, owner)
    response = await local_client.get(
        f"/api/v1/datasets/{dataset}/versions/1/download", headers=owner.headers()
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["credentials_required"] is True and body["expires_at"] is None
    assert body["url"] == f"http://gw/api/v1/datasets/{dataset}/versions/1/content"
    content = await local_client.get(body["url"], headers=owner.headers())
    assert content.status_code == 200
    assert content.headers["content-type"] == "application/vnd.apache.parquet"
    assert pq.read_table(io.BytesIO(content.content)).equals(pacsv.read_csv(SHIPPERS))
    anonymous = await local_client.get(body["url"])
    assert anonymous.status_code == 401
    theirs = await local_client.get(body["url"], headers=other.headers())
    assert theirs.status_code == 404
    assert theirs.json()["error"]["code"] == "dataset_not_found"
