"""The local directory object store on its own: atomic writes, no escape from the root, staging.

No servers: the store is a directory under pytest's tmp_path.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rivergen.errors import (
    BadRequest,
    ChecksumMismatch,
    ConfigurationError,
    Conflict,
    DependencyUnavailable,
    NotFound,
    PayloadTooLarge,
)
from rivergen.objectstore import (
    MIN_PART_SIZE,
    CompletedPart,
    LocalObjectStore,
    connect_object_store,
    multipart_etag,
    validate_key,
)
from rivergen.objectstore.multipart import ObjectDigest
from rivergen.settings import S3Settings, Settings

TEMPLATE = "http://gateway.test/api/v1/storage/uploads/{upload_id}/parts/{part_number}"


@pytest.fixture
async def store(tmp_path: Path) -> LocalObjectStore:
    local = LocalObjectStore(tmp_path / "objects", part_url_template=TEMPLATE)
    await local.ensure_bucket()
    return local


def staged_files(store: LocalObjectStore) -> list[Path]:
    staging = store.root / ".staging"
    return [path for path in staging.rglob("*") if path.is_file()]


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def test_settings_without_s3_choose_the_local_store(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, s3=S3Settings())
    chosen = connect_object_store(settings)
    assert isinstance(chosen, LocalObjectStore)
    assert chosen.root == (tmp_path / "objects").resolve()


async def test_put_writes_through_staging_and_leaves_no_temporary_file(
    store: LocalObjectStore,
) -> None:
    info = await store.put("workspaces/w1/files/f1/data.bin", b"hello")
    assert info.size == 5
    assert (store.root / "workspaces/w1/files/f1/data.bin").read_bytes() == b"hello"
    assert await store.get("workspaces/w1/files/f1/data.bin") == b"hello"
    assert staged_files(store) == []


async def test_overwrite_replaces_the_file_instead_of_rewriting_it(
    store: LocalObjectStore,
) -> None:
    await store.put("a/obj", b"old" * 1000)
    # A reader that opened the old version keeps reading all of it.
    with (store.root / "a/obj").open("rb") as reader:
        await store.put("a/obj", b"new")
        assert reader.read() == b"old" * 1000
    assert await store.get("a/obj") == b"new"


async def test_concurrent_readers_never_see_a_partial_object(store: LocalObjectStore) -> None:
    versions = [os.urandom(2 * 1024 * 1024), os.urandom(3 * 1024 * 1024)]
    await store.put("a/hot", versions[0])
    seen: list[bytes] = []

    async def writer() -> None:
        for i in range(12):
            await store.put("a/hot", versions[i % 2])

    async def reader() -> None:
        for _ in range(30):
            seen.append(await store.get("a/hot"))

    await asyncio.gather(writer(), reader(), reader())
    assert len(seen) == 60
    assert all(data in versions for data in seen)


async def test_a_failed_write_keeps_the_old_object_and_no_temporary_file(
    store: LocalObjectStore,
) -> None:
    await store.put("a/b", b"file")
    with pytest.raises(Conflict) as caught:
        await store.put("a/b/c", b"cannot live under a file")
    assert caught.value.error_code == "key_conflict"
    assert await store.get("a/b") == b"file"
    assert staged_files(store) == []


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside",
        "a/../../outside",
        "a/./b",
        "a//b",
        "a/b/",
        "a\\..\\b",
        "a/b\x00",
        ".staging/tmp/x",
        "x" * 1025,
    ],
)
async def test_invalid_keys_are_refused_everywhere(store: LocalObjectStore, key: str) -> None:
    outside = store.root.parent
    before = sorted(outside.rglob("*"))
    for call in (
        store.put(key, b"x"),
        store.get(key),
        store.stat(key),
        store.delete(key),
        store.create_multipart(key, 1, 10),
    ):
        with pytest.raises(BadRequest) as caught:
            await call
        assert caught.value.error_code == "invalid_key"
    assert sorted(outside.rglob("*")) == before


async def test_a_symlink_cannot_lead_out_of_the_root(
    store: LocalObjectStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not yours")
    (store.root / "ws").symlink_to(outside, target_is_directory=True)
    with pytest.raises(BadRequest):
        await store.get("ws/secret")
    with pytest.raises(BadRequest):
        await store.put("ws/planted", b"x")
    assert sorted(path.name for path in outside.iterdir()) == ["secret"]
    assert (await store.list()).items == []


def test_key_rules() -> None:
    assert validate_key("workspaces/w1/files/f 1/data.csv") == "workspaces/w1/files/f 1/data.csv"
    assert validate_key("a/.hidden/..b") == "a/.hidden/..b"
    assert validate_key("ü/ß") == "ü/ß"


async def test_delete_is_idempotent_and_prunes_empty_directories(
    store: LocalObjectStore,
) -> None:
    await store.put("a/b/c/obj", b"x")
    await store.put("a/keep", b"y")
    await store.delete("a/b/c/obj")
    await store.delete("a/b/c/obj")
    with pytest.raises(NotFound):
        await store.stat("a/b/c/obj")
    assert not (store.root / "a/b").exists()
    assert (store.root / "a/keep").exists()
    # The key space is free again for an object where the directory was.
    await store.put("a/b", b"now a file")


async def test_listing_follows_s3_key_order_and_skips_staging(store: LocalObjectStore) -> None:
    keys = ["p/a-b", "p/a/b", "p/a0", "p/a/c/d", "p/é", "p/Z", "q/other"]
    for key in keys:
        await store.put(key, key.encode())
    await store.create_multipart("p/in-progress", 1, 10)
    expected = sorted((k for k in keys if k.startswith("p/")), key=lambda k: k.encode())
    listed: list[str] = []
    start_after: str | None = None
    while True:
        page = await store.list("p/", limit=2, start_after=start_after)
        listed += [item.key for item in page.items]
        if page.next_start_after is None:
            break
        start_after = page.next_start_after
    assert listed == expected
    assert [i.key for i in (await store.list("p/a/")).items] == ["p/a/b", "p/a/c/d"]
    assert [i.key for i in (await store.list("p/a", start_after="p/a/b")).items] == [
        "p/a/c/d",
        "p/a0",
    ]


async def test_part_urls_come_from_the_template(tmp_path: Path) -> None:
    bare = LocalObjectStore(tmp_path / "objects")
    with pytest.raises(ConfigurationError):
        await bare.create_multipart("a/obj", 2, MIN_PART_SIZE)
    upload = await bare.create_multipart(
        "a/obj", 2, MIN_PART_SIZE, part_url_template="https://h/u/{upload_id}/p/{part_number}"
    )
    assert [part.url for part in upload.parts] == [
        f"https://h/u/{upload.upload_id}/p/1",
        f"https://h/u/{upload.upload_id}/p/2",
    ]
    assert all(part.method == "PUT" for part in upload.parts)


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        await asyncio.sleep(0)
        yield data[start : start + size]


async def test_parts_stream_in_and_completion_concatenates_them(
    store: LocalObjectStore,
) -> None:
    data = os.urandom(2 * MIN_PART_SIZE + 12345)
    pieces = [
        data[:MIN_PART_SIZE],
        data[MIN_PART_SIZE : 2 * MIN_PART_SIZE],
        data[2 * MIN_PART_SIZE :],
    ]
    upload = await store.create_multipart("w/f/obj", 3, MIN_PART_SIZE)
    declared = []
    for number, piece in enumerate(pieces, start=1):
        part = await store.write_part(upload.upload_id, number, chunked(piece, 64 * 1024))
        assert part.etag == hashlib.md5(piece).hexdigest()
        declared.append(CompletedPart(part_number=number, etag=f'"{part.etag}"'))
    assert [
        (p.part_number, p.size) for p in await store.list_parts("w/f/obj", upload.upload_id)
    ] == [
        (1, MIN_PART_SIZE),
        (2, MIN_PART_SIZE),
        (3, 12345),
    ]
    info = await store.complete_multipart(
        "w/f/obj", upload.upload_id, declared, len(data), sha256(data)
    )
    assert info.size == len(data)
    assert await store.get("w/f/obj") == data
    assert await store.list_uploads() == []
    assert staged_files(store) == []


async def test_a_part_larger_than_planned_is_refused_and_not_kept(
    store: LocalObjectStore,
) -> None:
    upload = await store.create_multipart("w/obj", 1, 1000)
    with pytest.raises(PayloadTooLarge):
        await store.write_part(upload.upload_id, 1, chunked(b"x" * 1500, 400))
    with pytest.raises(BadRequest):
        await store.write_part(upload.upload_id, 2, b"x")
    assert await store.list_parts("w/obj", upload.upload_id) == []
    assert staged_files(store) == [
        store.root / ".staging/uploads" / upload.upload_id / "manifest.json"
    ]


@pytest.mark.parametrize("upload_id", ["0" * 32, "../../../etc", "..", ""])
async def test_unknown_upload_ids_are_not_found(store: LocalObjectStore, upload_id: str) -> None:
    with pytest.raises(NotFound):
        await store.write_part(upload_id, 1, b"x")
    with pytest.raises(NotFound):
        await store.list_parts("w/obj", upload_id)
    await store.abort_multipart("w/obj", upload_id)


async def test_parts_of_an_expired_upload_are_refused_until_new_targets(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects", part_url_template=TEMPLATE, upload_expiry_s=0)
    upload = await store.create_multipart("w/obj", 1, 10)
    with pytest.raises(NotFound) as caught:
        await store.write_part(upload.upload_id, 1, b"x")
    assert caught.value.error_code == "upload_expired"


async def test_a_mismatch_on_completion_leaves_nothing(store: LocalObjectStore) -> None:
    await store.put("w/obj", b"previous version")
    upload = await store.create_multipart("w/obj", 1, 100)
    part = await store.write_part(upload.upload_id, 1, b"payload")
    declared = [CompletedPart(part_number=1, etag=part.etag)]
    with pytest.raises(ChecksumMismatch):
        await store.complete_multipart("w/obj", upload.upload_id, declared, 7, sha256(b"other!!"))
    # The local store verifies before it publishes: the previous object is untouched.
    assert await store.get("w/obj") == b"previous version"
    assert await store.list_uploads("w/") == []
    assert staged_files(store) == []
    with pytest.raises(NotFound):
        await store.list_parts("w/obj", upload.upload_id)


async def test_a_malformed_completion_changes_nothing(store: LocalObjectStore) -> None:
    upload = await store.create_multipart("w/obj", 1, 100)
    part = await store.write_part(upload.upload_id, 1, b"payload")
    declared = [CompletedPart(part_number=1, etag=part.etag)]
    for checksum in ("md5:abc", "sha256:xyz", ""):
        with pytest.raises(BadRequest) as caught:
            await store.complete_multipart("w/obj", upload.upload_id, declared, 7, checksum)
        assert caught.value.error_code == "invalid_checksum"
    assert len(await store.list_parts("w/obj", upload.upload_id)) == 1
    info = await store.complete_multipart(
        "w/obj", upload.upload_id, declared, 7, sha256(b"payload")
    )
    assert info.size == 7


async def test_ping_needs_the_directory(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    with pytest.raises(DependencyUnavailable):
        await store.ping(1.0)
    assert not (tmp_path / "objects").exists()  # ping creates nothing
    await store.ensure_bucket()
    assert await store.ping(1.0) >= 0.0


def test_digest_matches_the_s3_multipart_etag_for_any_chunking() -> None:
    parts = [os.urandom(700), os.urandom(700), os.urandom(123)]
    data = b"".join(parts)
    expected = multipart_etag(hashlib.md5(part).digest() for part in parts)
    rng = random.Random(7)
    for _ in range(50):
        digest = ObjectDigest([len(part) for part in parts])
        offset = 0
        while offset < len(data):
            step = rng.randint(1, 900)
            digest.update(data[offset : offset + step])
            offset += step
        result = digest.finish()
        assert result.multipart_etag == expected
        assert result.sha256 == hashlib.sha256(data).hexdigest()
        assert result.size == len(data)
