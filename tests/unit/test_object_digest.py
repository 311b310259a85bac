"""The read-back hash and the multipart ETag check."""

from __future__ import annotations

import hashlib
import random

import pytest

from rivergen.errors import ChecksumMismatch
from rivergen.objectstore.multipart import (
    check_assembled_etag,
    multipart_etag,
    sha256_concurrently,
)

KiB = 1024


def chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    chunks, offset, turn = [], 0, 0
    while offset < len(data):
        step = sizes[turn % len(sizes)]
        chunks.append(data[offset : offset + step])
        offset, turn = offset + step, turn + 1
    return chunks


@pytest.mark.parametrize(
    ("length", "chunk_sizes"),
    [(30 * KiB, [4 * KiB]), (25 * KiB, [7 * KiB, 1, 3 * KiB]), (10 * KiB, [64 * KiB]), (0, [KiB])],
)
def test_the_concurrent_hash_is_the_files_sha256(length: int, chunk_sizes: list[int]) -> None:
    data = random.Random(length).randbytes(length)
    assert sha256_concurrently(chunked(data, chunk_sizes)) == (
        length,
        hashlib.sha256(data).hexdigest(),
    )


def test_a_failing_read_stops_the_hasher() -> None:
    def broken() -> list[bytes]:
        raise OSError("connection reset")

    def chunks():  # type: ignore[no-untyped-def]
        yield b"x" * KiB
        broken()

    with pytest.raises(OSError, match="reset"):
        sha256_concurrently(chunks())


def test_the_assembled_etag_must_be_the_one_its_parts_make() -> None:
    parts = [b"a" * KiB, b"b" * KiB, b"c"]
    etags = [f'"{hashlib.md5(p).hexdigest()}"' for p in parts]
    assembled = multipart_etag(hashlib.md5(p).digest() for p in parts)
    check_assembled_etag(etags, f'"{assembled}"')
    with pytest.raises(ChecksumMismatch):
        check_assembled_etag(etags[:2], assembled)  # a part left out
    with pytest.raises(ChecksumMismatch):
        check_assembled_etag(list(reversed(etags)), assembled)  # in another order
    # Not MD5 digests (SSE-KMS, SSE-C): nothing to compare.
    check_assembled_etag(["opaque-1", "opaque-2"], "opaque-2")
