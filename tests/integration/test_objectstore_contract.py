"""One contract for every object store adapter: S3 (against the real S3 server from
`scripts/services up`) and the local directory store. Both must behave the same to callers.

Parts of a direct upload go where the store says: for S3 plain HTTP PUTs to the presigned URLs;
for the local store through `write_part`, which the platform's part endpoint calls.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import boto3
import httpx
import pytest

from rivergen.errors import (
    BadRequest,
    ChecksumMismatch,
    ConfigurationError,
    DependencyUnavailable,
    NotFound,
)
from rivergen.objectstore import (
    MIN_PART_SIZE,
    CompletedPart,
    LocalObjectStore,
    MultipartUpload,
    ObjectStore,
    PartTarget,
    S3ObjectStore,
    connect_object_store,
)
from rivergen.settings import S3Settings, Settings, load_settings

pytestmark = pytest.mark.integration

PART_URL_TEMPLATE = "http://gateway.test/api/v1/storage/uploads/{upload_id}/parts/{part_number}"


def s3_settings() -> Settings:
    if not os.environ.get("RIVERGEN_S3__ENDPOINT_URL"):
        pytest.fail(
            "RIVERGEN_S3__ENDPOINT_URL is not set: start the S3 server with "
            '`scripts/services up` and export its address with `eval "$(scripts/services env)"`'
        )
    return load_settings()


@pytest.fixture(params=["s3", "local"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    if request.param == "s3":
        settings = s3_settings()
    else:
        settings = Settings(data_dir=tmp_path, s3=S3Settings())
    chosen = connect_object_store(settings, part_url_template=PART_URL_TEMPLATE)
    assert chosen.kind == request.param
    await chosen.ensure_bucket()
    yield chosen
    await chosen.close()


@pytest.fixture
async def prefix(store: ObjectStore) -> AsyncIterator[str]:
    """A key prefix of this test alone; whatever the test leaves under it is removed."""
    prefix = f"workspaces/{uuid.uuid4().hex}/files/"
    yield prefix
    for upload in await store.list_uploads(prefix):
        await store.abort_multipart(upload.key, upload.upload_id)
    page = await store.list(prefix)
    while page.items:
        for item in page.items:
            await store.delete(item.key)
        page = await store.list(prefix)


async def send_part(
    store: ObjectStore, upload: MultipartUpload, target: PartTarget, data: bytes
) -> str:
    """What a client does with one part target; returns the ETag it is given."""
    if isinstance(store, LocalObjectStore):
        return (await store.write_part(upload.upload_id, target.part_number, data)).etag
    async with httpx.AsyncClient(timeout=30.0) as client:
        response = await client.request(
            target.method, target.url, content=data, headers=target.headers
        )
    response.raise_for_status()
    return response.headers["ETag"]


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


async def test_ping_answers_with_a_latency(store: ObjectStore) -> None:
    assert 0.0 <= await store.ping(2.0) < 2000.0


async def test_put_get_stat_delete(store: ObjectStore, prefix: str) -> None:
    key = f"{prefix}f1/data.bin"
    data = os.urandom(4096)
    put = await store.put(key, data)
    assert put.key == key
    assert put.size == len(data)
    assert await store.get(key) == data
    stat = await store.stat(key)
    assert (stat.key, stat.size, stat.etag) == (key, len(data), put.etag)
    assert stat.last_modified is not None

    replaced = await store.put(key, b"shorter")
    assert replaced.etag != put.etag
    assert await store.get(key) == b"shorter"

    await store.delete(key)
    with pytest.raises(NotFound):
        await store.get(key)
    await store.delete(key)  # deleting what is gone is not an error


async def test_a_missing_key_is_not_found(store: ObjectStore, prefix: str) -> None:
    for call in (store.get(f"{prefix}nothing"), store.stat(f"{prefix}nothing")):
        with pytest.raises(NotFound) as caught:
            await call
        assert caught.value.error_code == "object_not_found"
        assert caught.value.status == 404


async def test_listing_pages_through_keys_in_order(store: ObjectStore, prefix: str) -> None:
    names = ["a-b", "a/b", "a/c/d", "a0", "b", "Z", "é"]
    for name in names:
        await store.put(f"{prefix}{name}", name.encode())
    await store.put(f"{prefix[:-1]}-sibling/x", b"not under the prefix")
    expected = sorted((f"{prefix}{name}" for name in names), key=lambda key: key.encode())

    listed: list[str] = []
    start_after: str | None = None
    pages = 0
    while True:
        page = await store.list(prefix, limit=3, start_after=start_after)
        pages += 1
        listed += [item.key for item in page.items]
        assert all(item.size > 0 and item.etag for item in page.items)
        if page.next_start_after is None:
            break
        start_after = page.next_start_after
    assert listed == expected
    assert pages == 3

    under_a = await store.list(f"{prefix}a/")
    assert [item.key for item in under_a.items] == [f"{prefix}a/b", f"{prefix}a/c/d"]
    after = await store.list(prefix, limit=2, start_after=f"{prefix}a/b")
    assert [item.key for item in after.items] == [f"{prefix}a/c/d", f"{prefix}a0"]
    await store.delete(f"{prefix[:-1]}-sibling/x")


@pytest.mark.parametrize(
    "suffix", ["../escape", "a/../../escape", "a//b", "a/./b", "a/", "a\x00b", "a\\b"]
)
async def test_invalid_keys_are_refused(store: ObjectStore, prefix: str, suffix: str) -> None:
    for key in (f"{prefix}{suffix}", f"/{prefix}x", "", f"../{prefix}x"):
        for call in (
            store.put(key, b"x"),
            store.get(key),
            store.stat(key),
            store.delete(key),
            store.create_multipart(key, 1, 100),
        ):
            with pytest.raises(BadRequest) as caught:
                await call
            assert caught.value.error_code == "invalid_key"
    assert (await store.list(prefix)).items == []


async def test_a_listing_limit_outside_1_to_1000_is_refused(store: ObjectStore) -> None:
    for limit in (0, 1001):
        with pytest.raises(BadRequest) as caught:
            await store.list("workspaces/", limit=limit)
        assert caught.value.error_code == "invalid_limit"


async def test_a_multipart_upload_part_by_part(store: ObjectStore, prefix: str) -> None:
    key = f"{prefix}f2/data.bin"
    data = os.urandom(MIN_PART_SIZE + 1000)
    pieces = [data[:MIN_PART_SIZE], data[MIN_PART_SIZE:]]
    upload = await store.create_multipart(key, 2, MIN_PART_SIZE)
    assert upload.key == key
    assert [part.part_number for part in upload.parts] == [1, 2]

    first = await send_part(store, upload, upload.parts[0], pieces[0])
    listed = await store.list_parts(key, upload.upload_id)
    assert [(p.part_number, p.size, p.etag) for p in listed] == [
        (1, MIN_PART_SIZE, hashlib.md5(pieces[0]).hexdigest())
    ]
    assert [u.upload_id for u in await store.list_uploads(prefix)] == [upload.upload_id]
    with pytest.raises(NotFound):
        await store.stat(key)  # nothing is visible before completion

    second = await send_part(store, upload, upload.parts[1], pieces[1])
    declared = [
        CompletedPart(part_number=1, etag=first),
        CompletedPart(part_number=2, etag=second),
    ]
    info = await store.complete_multipart(key, upload.upload_id, declared, len(data), sha256(data))
    assert (info.key, info.size) == (key, len(data))
    assert await store.get(key) == data
    assert (await store.stat(key)).size == len(data)
    assert await store.list_uploads(prefix) == []
    with pytest.raises(NotFound) as caught:
        await store.list_parts(key, upload.upload_id)
    assert caught.value.error_code == "upload_not_found"
    # A client's retry of the completion finds the upload gone and leaves the object alone.
    with pytest.raises(NotFound) as caught:
        await store.complete_multipart(key, upload.upload_id, declared, len(data), sha256(data))
    assert caught.value.error_code == "upload_not_found"
    assert await store.get(key) == data


async def upload_parts(
    store: ObjectStore, key: str, pieces: list[bytes]
) -> tuple[MultipartUpload, list[CompletedPart]]:
    upload = await store.create_multipart(key, len(pieces), max(MIN_PART_SIZE, len(pieces[0])))
    declared = [
        CompletedPart(
            part_number=target.part_number, etag=await send_part(store, upload, target, piece)
        )
        for target, piece in zip(upload.parts, pieces, strict=True)
    ]
    return upload, declared


async def assert_nothing_left(store: ObjectStore, key: str, upload_id: str) -> None:
    with pytest.raises(NotFound):
        await store.stat(key)
    assert [u for u in await store.list_uploads(key) if u.key == key] == []
    with pytest.raises(NotFound):
        await store.list_parts(key, upload_id)


async def test_a_wrong_checksum_leaves_nothing(store: ObjectStore, prefix: str) -> None:
    key = f"{prefix}bad-checksum"
    pieces = [os.urandom(MIN_PART_SIZE), b"tail"]
    upload, declared = await upload_parts(store, key, pieces)
    size = MIN_PART_SIZE + 4
    with pytest.raises(ChecksumMismatch):
        await store.complete_multipart(key, upload.upload_id, declared, size, sha256(b"other"))
    await assert_nothing_left(store, key, upload.upload_id)


async def test_a_wrong_size_leaves_nothing(store: ObjectStore, prefix: str) -> None:
    key = f"{prefix}bad-size"
    data = b"a small object in one part"
    upload, declared = await upload_parts(store, key, [data])
    with pytest.raises(BadRequest) as caught:
        await store.complete_multipart(key, upload.upload_id, declared, len(data) + 1, sha256(data))
    assert caught.value.error_code == "size_mismatch"
    await assert_nothing_left(store, key, upload.upload_id)


async def test_a_wrong_part_etag_leaves_nothing(store: ObjectStore, prefix: str) -> None:
    key = f"{prefix}bad-etag"
    data = b"one part"
    upload, _ = await upload_parts(store, key, [data])
    forged = [CompletedPart(part_number=1, etag=hashlib.md5(b"other bytes").hexdigest())]
    with pytest.raises(ChecksumMismatch):
        await store.complete_multipart(key, upload.upload_id, forged, len(data), sha256(data))
    await assert_nothing_left(store, key, upload.upload_id)


async def test_a_small_part_before_the_last_leaves_nothing(store: ObjectStore, prefix: str) -> None:
    key = f"{prefix}small-part"
    upload = await store.create_multipart(key, 2, MIN_PART_SIZE)
    declared = [
        CompletedPart(part_number=t.part_number, etag=await send_part(store, upload, t, b"tiny"))
        for t in upload.parts
    ]
    with pytest.raises(BadRequest) as caught:
        await store.complete_multipart(key, upload.upload_id, declared, 8, sha256(b"tinytiny"))
    assert caught.value.error_code == "part_too_small"
    await assert_nothing_left(store, key, upload.upload_id)


async def test_a_malformed_completion_changes_nothing(store: ObjectStore, prefix: str) -> None:
    key = f"{prefix}malformed"
    data = b"payload"
    upload, declared = await upload_parts(store, key, [data])
    with pytest.raises(BadRequest) as caught:
        await store.complete_multipart(key, upload.upload_id, declared, len(data), "crc32:1234")
    assert caught.value.error_code == "invalid_checksum"
    with pytest.raises(BadRequest) as caught:
        await store.complete_multipart(key, upload.upload_id, [], len(data), sha256(data))
    assert caught.value.error_code == "invalid_parts"
    assert len(await store.list_parts(key, upload.upload_id)) == 1
    await store.abort_multipart(key, upload.upload_id)
    await store.abort_multipart(key, upload.upload_id)  # aborting twice is not an error
    await assert_nothing_left(store, key, upload.upload_id)


async def test_resuming_gives_fresh_targets_for_missing_parts(
    store: ObjectStore, prefix: str
) -> None:
    key = f"{prefix}resume"
    upload = await store.create_multipart(key, 3, MIN_PART_SIZE)
    targets = await store.part_targets(key, upload.upload_id, [2, 3])
    assert [t.part_number for t in targets] == [2, 3]
    await store.abort_multipart(key, upload.upload_id)
    with pytest.raises(NotFound):
        await store.part_targets(key, upload.upload_id, [1])


def test_the_s3_adapter_needs_a_bucket() -> None:
    with pytest.raises(ConfigurationError):
        S3ObjectStore(S3Settings(endpoint_url="http://127.0.0.1:1"))


async def test_an_unreachable_s3_endpoint_is_unavailable_not_a_crash() -> None:
    unreachable = S3ObjectStore(
        S3Settings.model_validate(
            {
                "endpoint_url": "http://127.0.0.1:1",
                "bucket": "rivergen",
                "access_key_id": "testing",
                "secret_access_key": "testing",
            }
        ),
        max_attempts=1,
    )
    try:
        with pytest.raises(DependencyUnavailable):
            await unreachable.ping(2.0)
        with pytest.raises(DependencyUnavailable):
            await unreachable.ensure_bucket()
        with pytest.raises(DependencyUnavailable):
            await unreachable.get("workspaces/w/files/f")
    finally:
        await unreachable.close()


async def test_ensure_bucket_creates_a_missing_bucket_and_ping_creates_nothing() -> None:
    settings = s3_settings()
    bucket = f"rivergen-test-{uuid.uuid4().hex[:12]}"
    fresh = S3ObjectStore(settings.s3.model_copy(update={"bucket": bucket}))
    assert settings.s3.access_key_id is not None and settings.s3.secret_access_key is not None
    observer = boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3.endpoint_url,
        region_name=settings.s3.region,
        aws_access_key_id=settings.s3.access_key_id.get_secret_value(),
        aws_secret_access_key=settings.s3.secret_access_key.get_secret_value(),
    )
    try:
        with pytest.raises(DependencyUnavailable):
            await fresh.ping(2.0)
        names = {b["Name"] for b in observer.list_buckets()["Buckets"]}
        assert bucket not in names
        await fresh.ensure_bucket()
        await fresh.ensure_bucket()  # a second start finds it
        assert await fresh.ping(2.0) >= 0.0
        assert bucket in {b["Name"] for b in observer.list_buckets()["Buckets"]}
    finally:
        await fresh.close()
        observer.delete_bucket(Bucket=bucket)
