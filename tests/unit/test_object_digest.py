"""The concurrent read-back digest gives exactly what the one-thread digest gives."""

from __future__ import annotations

import random

import pytest

from rivergen.objectstore.multipart import ObjectDigest, digest_concurrently

KiB = 1024


def chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    chunks, offset, turn = [], 0, 0
    while offset < len(data):
        step = sizes[turn % len(sizes)]
        chunks.append(data[offset : offset + step])
        offset, turn = offset + step, turn + 1
    return chunks


@pytest.mark.parametrize(
    ("length", "part_sizes", "chunk_sizes"),
    [
        (30 * KiB, [10 * KiB, 10 * KiB, 10 * KiB], [4 * KiB]),  # boundaries inside chunks
        (30 * KiB, [10 * KiB, 10 * KiB, 10 * KiB], [10 * KiB]),  # boundaries on chunks
        (25 * KiB, [10 * KiB, 10 * KiB, 5 * KiB], [7 * KiB, 1, 3 * KiB]),
        (35 * KiB, [10 * KiB, 10 * KiB, 10 * KiB], [6 * KiB]),  # longer than planned
        (15 * KiB, [10 * KiB, 10 * KiB, 10 * KiB], [6 * KiB]),  # shorter than planned
        (10 * KiB, [10 * KiB, 10 * KiB], [64 * KiB]),  # ends on a boundary
        (0, [10 * KiB], [KiB]),  # empty
        (5 * KiB, [], [KiB]),  # no plan
    ],
)
def test_same_result_as_object_digest(
    length: int, part_sizes: list[int], chunk_sizes: list[int]
) -> None:
    data = random.Random(length).randbytes(length)
    expected = ObjectDigest(part_sizes)
    for chunk in chunked(data, chunk_sizes):
        expected.update(chunk)
    assert digest_concurrently(chunked(data, chunk_sizes), part_sizes) == expected.finish()


def test_a_failing_read_stops_the_hashers() -> None:
    def broken() -> list[bytes]:
        raise OSError("connection reset")

    def chunks():  # type: ignore[no-untyped-def]
        yield b"x" * KiB
        broken()

    with pytest.raises(OSError, match="reset"):
        digest_concurrently(chunks(), [KiB])
