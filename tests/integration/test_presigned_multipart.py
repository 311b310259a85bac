"""Acceptance: a direct multipart upload to S3 through presigned URLs, verified by the platform.

The client side is plain HTTP (httpx PUTs to the presigned part URLs, no S3 SDK). What is left
on the server afterwards is observed with a separate boto3 client, not through the store under
test. The S3 server of the test setup (moto's server mode) checks neither checksums nor the
expiry of presigned URLs, so the tests assert the platform's own checks and the signed query
parameters.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from rivergen.errors import BadRequest, ChecksumMismatch
from rivergen.objectstore import (
    MIN_PART_SIZE,
    CompletedPart,
    MultipartUpload,
    S3ObjectStore,
    connect_object_store,
    multipart_etag,
)
from rivergen.settings import Settings, load_settings

pytestmark = pytest.mark.integration

LAST_PART_SIZE = 1_572_864  # 1.5 MiB: the last part may be smaller than 5 MiB


@pytest.fixture(scope="module")
def settings() -> Settings:
    if not os.environ.get("RIVERGEN_S3__ENDPOINT_URL"):
        pytest.fail(
            "RIVERGEN_S3__ENDPOINT_URL is not set: start the S3 server with "
            '`scripts/services up` and export its address with `eval "$(scripts/services env)"`'
        )
    return load_settings()


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[S3ObjectStore]:
    chosen = connect_object_store(settings)
    assert isinstance(chosen, S3ObjectStore)
    await chosen.ensure_bucket()
    yield chosen
    await chosen.close()


@pytest.fixture(scope="module")
def observer(settings: Settings) -> Any:
    """A plain boto3 client that looks at the bucket from outside the store under test."""
    s3 = settings.s3
    assert s3.access_key_id is not None and s3.secret_access_key is not None
    return boto3.session.Session().client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name=s3.region,
        aws_access_key_id=s3.access_key_id.get_secret_value(),
        aws_secret_access_key=s3.secret_access_key.get_secret_value(),
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.fixture
def key(store: S3ObjectStore, observer: Any) -> Iterator[str]:
    key = f"workspaces/{uuid.uuid4().hex}/files/{uuid.uuid4().hex}/data.bin"
    yield key
    for upload in observer.list_multipart_uploads(Bucket=store.bucket, Prefix=key).get(
        "Uploads", []
    ):
        observer.abort_multipart_upload(Bucket=store.bucket, Key=key, UploadId=upload["UploadId"])
    observer.delete_object(Bucket=store.bucket, Key=key)


@pytest.fixture(scope="module")
def payload() -> list[bytes]:
    """Three parts: two of 5 MiB and a shorter last one."""
    return [os.urandom(MIN_PART_SIZE), os.urandom(MIN_PART_SIZE), os.urandom(LAST_PART_SIZE)]


async def put_part(
    client: httpx.AsyncClient, upload: MultipartUpload, number: int, data: bytes
) -> str:
    target = upload.parts[number - 1]
    assert target.part_number == number
    response = await client.request(target.method, target.url, content=data, headers=target.headers)
    assert response.status_code == 200, response.text
    return response.headers["ETag"]


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def assert_nothing_left(observer: Any, bucket: str, key: str) -> None:
    with pytest.raises(ClientError) as caught:
        observer.head_object(Bucket=bucket, Key=key)
    assert caught.value.response["Error"]["Code"] in ("404", "NoSuchKey")
    uploads = observer.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
    assert [u for u in uploads if u["Key"] == key] == []


async def test_three_part_upload_with_plain_http_puts_and_resume(
    store: S3ObjectStore, observer: Any, key: str, payload: list[bytes]
) -> None:
    data = b"".join(payload)
    upload = await store.create_multipart(key, 3, MIN_PART_SIZE)
    assert len(upload.parts) == 3

    async with httpx.AsyncClient(timeout=60.0) as client:
        etags = [await put_part(client, upload, n, payload[n - 1]) for n in (1, 2)]
        # The client stops here; on resume it asks what the store already holds.
        held = await store.list_parts(key, upload.upload_id)
        assert [(p.part_number, p.size) for p in held] == [(1, MIN_PART_SIZE), (2, MIN_PART_SIZE)]
        assert [p.etag for p in held] == [hashlib.md5(part).hexdigest() for part in payload[:2]]
        [fresh] = await store.part_targets(key, upload.upload_id, [3])
        response = await client.put(fresh.url, content=payload[2])
        assert response.status_code == 200
        etags.append(response.headers["ETag"])

    declared = [CompletedPart(part_number=n, etag=etag) for n, etag in enumerate(etags, 1)]
    info = await store.complete_multipart(key, upload.upload_id, declared, len(data), sha256(data))

    assert info.size == len(data)
    assert info.etag == multipart_etag(hashlib.md5(part).digest() for part in payload)
    stored = observer.get_object(Bucket=store.bucket, Key=key)["Body"].read()
    assert stored == data
    uploads = observer.list_multipart_uploads(Bucket=store.bucket, Prefix=key)
    assert uploads.get("Uploads", []) == []


async def test_part_urls_carry_the_signed_parameters(
    store: S3ObjectStore, settings: Settings, key: str
) -> None:
    before = datetime.now(UTC)
    upload = await store.create_multipart(key, 3, MIN_PART_SIZE)
    assert settings.s3.presign_expiry_s == 3600
    assert (
        before + timedelta(seconds=3590)
        <= upload.expires_at
        <= datetime.now(UTC) + timedelta(seconds=3600)
    )
    date = before.strftime("%Y%m%d")
    assert settings.s3.access_key_id is not None
    access_key_id = settings.s3.access_key_id.get_secret_value()
    for number, target in enumerate(upload.parts, start=1):
        url = urlsplit(target.url)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        assert target.method == "PUT"
        assert url.path == f"/{store.bucket}/{key}"
        assert query["partNumber"] == str(number)
        assert query["uploadId"] == upload.upload_id
        assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
        assert query["X-Amz-Expires"] == "3600"
        assert query["X-Amz-SignedHeaders"] == "host"
        assert query["X-Amz-Credential"] in {
            f"{access_key_id}/{day}/{settings.s3.region}/s3/aws4_request"
            for day in (date, datetime.now(UTC).strftime("%Y%m%d"))
        }
        assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"])
        assert re.fullmatch(r"[0-9]{8}T[0-9]{6}Z", query["X-Amz-Date"])
    signatures = {parse_qs(urlsplit(t.url).query)["X-Amz-Signature"][0] for t in upload.parts}
    assert len(signatures) == 3
    await store.abort_multipart(key, upload.upload_id)


async def test_a_wrong_checksum_is_refused_and_nothing_is_left(
    store: S3ObjectStore, observer: Any, key: str, payload: list[bytes]
) -> None:
    data = b"".join(payload)
    upload = await store.create_multipart(key, 3, MIN_PART_SIZE)
    async with httpx.AsyncClient(timeout=60.0) as client:
        etags = [await put_part(client, upload, n, payload[n - 1]) for n in (1, 2, 3)]
    declared = [CompletedPart(part_number=n, etag=etag) for n, etag in enumerate(etags, 1)]
    # The client hashed other bytes than it sent (here: one flipped byte).
    flipped = bytes([data[0] ^ 1]) + data[1:]
    with pytest.raises(ChecksumMismatch) as caught:
        await store.complete_multipart(key, upload.upload_id, declared, len(data), sha256(flipped))
    assert caught.value.status == 400
    assert caught.value.details["actual_checksum"] == sha256(data)
    assert_nothing_left(observer, store.bucket, key)


async def test_a_wrong_size_is_refused_and_nothing_is_left(
    store: S3ObjectStore, observer: Any, key: str, payload: list[bytes]
) -> None:
    data = b"".join(payload)
    upload = await store.create_multipart(key, 3, MIN_PART_SIZE)
    async with httpx.AsyncClient(timeout=60.0) as client:
        etags = [await put_part(client, upload, n, payload[n - 1]) for n in (1, 2, 3)]
    declared = [CompletedPart(part_number=n, etag=etag) for n, etag in enumerate(etags, 1)]
    with pytest.raises(BadRequest) as caught:
        await store.complete_multipart(key, upload.upload_id, declared, len(data) - 1, sha256(data))
    assert caught.value.error_code == "size_mismatch"
    assert caught.value.details == {"expected_size": len(data) - 1, "actual_size": len(data)}
    assert_nothing_left(observer, store.bucket, key)


async def test_a_part_replaced_after_its_etag_was_declared_is_refused(
    store: S3ObjectStore, observer: Any, key: str, payload: list[bytes]
) -> None:
    data = b"".join(payload)
    upload = await store.create_multipart(key, 3, MIN_PART_SIZE)
    async with httpx.AsyncClient(timeout=60.0) as client:
        etags = [await put_part(client, upload, n, payload[n - 1]) for n in (1, 2, 3)]
        # Someone holding the URL sends other bytes of the same size for part 2.
        await put_part(client, upload, 2, os.urandom(MIN_PART_SIZE))
    declared = [CompletedPart(part_number=n, etag=etag) for n, etag in enumerate(etags, 1)]
    with pytest.raises(ChecksumMismatch) as caught:
        await store.complete_multipart(key, upload.upload_id, declared, len(data), sha256(data))
    assert caught.value.details["part_number"] == 2
    assert_nothing_left(observer, store.bucket, key)
