"""Rules and verification of a direct multipart upload, shared by every adapter.

The platform checks uploads itself rather than trusting the server to (moto's S3 server checks
neither ``Content-MD5`` nor ``x-amz-checksum-*``). On completion it checks, in order:

1. the declared parts against the parts the store holds (present, same ETags);
2. the layout: every part but the last at least :data:`MIN_PART_SIZE`, the sum equal to the
   declared size (``BadRequest``, codes ``part_missing``, ``part_too_small``, ``size_mismatch``);
3. the content, read back in chunks: its size and SHA-256 against the declared ``sha256:<hex>``
   (``ChecksumMismatch``); and the assembled object's multipart ETag against the one its parts
   make, ``md5(md5(part 1) + ... + md5(part N))-N`` (the S3 adapter takes the part MD5s from the
   part ETags the store computed from the bytes it got and step 1 checked, so it hashes the
   content once, with SHA-256 alone; the local store computes them as it assembles).

Malformed requests (no parts, a part twice, a checksum not of the form ``sha256:<hex>``) are
refused before anything is touched, so the client can correct and retry.
"""

from __future__ import annotations

import hashlib
import queue
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rivergen.errors import BadRequest, ChecksumMismatch
from rivergen.objectstore.models import MAX_PART_NUMBER, CompletedPart

MIN_PART_SIZE = 5 * 1024 * 1024
"""Smallest size of every part but the last (the S3 rule, enforced by every adapter)."""
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
READ_CHUNK = 1024 * 1024

_SHA256 = re.compile(r"sha256:([0-9a-fA-F]{64})")
_MULTIPART_ETAG = re.compile(r"[0-9a-f]{32}-[0-9]+")
_MD5 = re.compile(r"[0-9a-f]{32}")


def check_new_upload(part_count: int, part_size: int) -> None:
    """Refuse an upload plan S3 could not complete."""
    if not 1 <= part_count <= MAX_PART_NUMBER:
        raise BadRequest(
            f"part_count must be between 1 and {MAX_PART_NUMBER}, got {part_count}",
            code="invalid_parts",
        )
    lowest = MIN_PART_SIZE if part_count > 1 else 0
    if not lowest <= part_size <= MAX_PART_SIZE:
        raise BadRequest(
            f"part_size must be between {lowest} and {MAX_PART_SIZE} bytes, got {part_size}",
            code="invalid_parts",
        )


def check_part_numbers(part_numbers: Sequence[int]) -> None:
    """Part numbers run from 1 to 10,000."""
    if not part_numbers or any(not 1 <= number <= MAX_PART_NUMBER for number in part_numbers):
        raise BadRequest(
            f"part numbers must be between 1 and {MAX_PART_NUMBER}", code="invalid_parts"
        )


def normalize_etag(etag: str) -> str:
    """An ETag without its quotes, lower case, so declared and stored ones compare."""
    return etag.strip().strip('"').lower()


def parse_sha256(expected_checksum: str) -> str:
    """The hex digest of ``sha256:<64 hex>``, lower case; anything else is a ``BadRequest``."""
    match = _SHA256.fullmatch(expected_checksum.strip())
    if match is None:
        raise BadRequest(
            "expected_checksum must be 'sha256:<64 hex digits>' (SHA-256 of the whole object)",
            code="invalid_checksum",
        )
    return match.group(1).lower()


def order_declared(parts: Sequence[CompletedPart], expected_size: int) -> list[CompletedPart]:
    """The declared parts by number; refuses an empty list, a repeated number, a negative size."""
    if not parts:
        raise BadRequest("a completion needs at least one part", code="invalid_parts")
    if expected_size < 0:
        raise BadRequest("expected_size must not be negative", code="invalid_parts")
    ordered = sorted(parts, key=lambda part: part.part_number)
    numbers = [part.part_number for part in ordered]
    if len(set(numbers)) != len(numbers):
        raise BadRequest("a part number is declared twice", code="invalid_parts")
    return ordered


def check_part_layout(
    declared: Sequence[CompletedPart], sizes: Mapping[int, int], expected_size: int
) -> list[int]:
    """Check the declared parts exist and add up to ``expected_size``; returns their sizes."""
    missing = [part.part_number for part in declared if part.part_number not in sizes]
    if missing:
        raise BadRequest(
            f"parts {missing} were declared but never uploaded",
            code="part_missing",
            details={"part_numbers": missing},
        )
    part_sizes = [sizes[part.part_number] for part in declared]
    small = [
        part.part_number
        for part, size in zip(declared[:-1], part_sizes[:-1], strict=True)
        if size < MIN_PART_SIZE
    ]
    if small:
        raise BadRequest(
            f"parts {small} are smaller than {MIN_PART_SIZE} bytes and are not the last part",
            code="part_too_small",
            details={"part_numbers": small},
        )
    total = sum(part_sizes)
    if total != expected_size:
        raise BadRequest(
            f"the parts hold {total} bytes, {expected_size} were declared",
            code="size_mismatch",
            details={"expected_size": expected_size, "actual_size": total},
        )
    return part_sizes


def check_part_etags(declared: Iterable[CompletedPart], actual: Mapping[int, str]) -> None:
    """Every declared part ETag must be the one the store computed from the bytes it got."""
    for part in declared:
        stored = normalize_etag(actual.get(part.part_number, ""))
        if normalize_etag(part.etag) != stored:
            raise ChecksumMismatch(
                f"part {part.part_number}: declared ETag {part.etag!r}, "
                f"the stored bytes have {stored!r}",
                details={"part_number": part.part_number, "stored_etag": stored},
            )


def multipart_etag(part_md5s: Iterable[bytes]) -> str:
    """The S3 ETag of a multipart object: MD5 of the concatenated part MD5s, ``-`` part count."""
    digests = list(part_md5s)
    return f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"


@dataclass(frozen=True)
class DigestResult:
    size: int
    sha256: str
    part_md5s: tuple[bytes, ...]

    @property
    def multipart_etag(self) -> str:
        return multipart_etag(self.part_md5s)


class ObjectDigest:
    """Hashes an object fed in chunks of any size: SHA-256 of it all, MD5 of each part.

    Bytes past the planned part sizes go into the last part, so a longer or shorter object
    still yields a result, and the checks that follow catch it.
    """

    def __init__(self, part_sizes: Sequence[int]) -> None:
        self._part_sizes = list(part_sizes) or [0]
        self._index = 0
        self._left_in_part = self._part_sizes[0]
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._md5s: list[bytes] = []
        self._size = 0

    def update(self, chunk: bytes | memoryview) -> None:
        view = memoryview(chunk)
        self._sha256.update(view)
        self._size += len(view)
        while view:
            last = self._index + 1 == len(self._part_sizes)
            if self._left_in_part == 0 and not last:
                self._next_part()
                continue
            take = len(view) if last else min(len(view), self._left_in_part)
            self._md5.update(view[:take])
            self._left_in_part = max(self._left_in_part - take, 0)
            view = view[take:]

    def finish(self) -> DigestResult:
        md5s = (*self._md5s, self._md5.digest())
        return DigestResult(self._size, self._sha256.hexdigest(), md5s)

    def _next_part(self) -> None:
        self._md5s.append(self._md5.digest())
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._index += 1
        self._left_in_part = self._part_sizes[self._index]


_QUEUE_DEPTH = 8  # chunks in flight to the hasher: memory stays a few chunks


def sha256_concurrently(chunks: Iterable[bytes]) -> tuple[int, str]:
    """The size and SHA-256 (hex) of ``chunks``, hashed in another thread while this one reads
    (hashlib releases the GIL): a read-back costs about the slower of the two, not their sum."""
    inbox: queue.Queue[bytes | None] = queue.Queue(_QUEUE_DEPTH)

    def hash_all() -> tuple[int, str]:
        sha256, size = hashlib.sha256(), 0
        while (chunk := inbox.get()) is not None:
            sha256.update(chunk)
            size += len(chunk)
        return size, sha256.hexdigest()

    with ThreadPoolExecutor(1, thread_name_prefix="rivergen-digest") as pool:
        hashed = pool.submit(hash_all)
        try:
            for chunk in chunks:
                inbox.put(chunk)
        finally:
            inbox.put(None)
        return hashed.result()


def check_assembled_etag(part_etags: Sequence[str], stored_etag: str) -> None:
    """The assembled object's ETag must be the multipart ETag its parts' ETags make (when both
    are plain MD5 digests: with SSE-KMS or SSE-C they are not)."""
    etag = normalize_etag(stored_etag)
    parts = [normalize_etag(e) for e in part_etags]
    if not _MULTIPART_ETAG.fullmatch(etag) or not all(_MD5.fullmatch(p) for p in parts):
        return
    expected = multipart_etag(bytes.fromhex(p) for p in parts)
    if etag != expected:
        raise ChecksumMismatch(
            f"the store's ETag {etag} is not the one of the parts ({expected})",
            details={"stored_etag": etag, "computed_etag": expected},
        )


def check_content(
    result: DigestResult, expected_sha256: str, expected_size: int, stored_etag: str | None
) -> None:
    """Compare what was read back with what was declared (and with the store's own ETag)."""
    if result.size != expected_size:
        raise BadRequest(
            f"the object holds {result.size} bytes, {expected_size} were declared",
            code="size_mismatch",
            details={"expected_size": expected_size, "actual_size": result.size},
        )
    if result.sha256 != expected_sha256:
        raise ChecksumMismatch(
            f"SHA-256 of the uploaded bytes is {result.sha256}, {expected_sha256} was declared",
            details={"actual_checksum": f"sha256:{result.sha256}"},
        )
    # Only a plain multipart ETag is an MD5 digest; with SSE-KMS or SSE-C it is not.
    etag = normalize_etag(stored_etag) if stored_etag is not None else None
    if etag is not None and _MULTIPART_ETAG.fullmatch(etag) and etag != result.multipart_etag:
        raise ChecksumMismatch(
            f"the store's ETag {etag} is not the one of the parts read back "
            f"({result.multipart_etag})",
            details={"stored_etag": etag, "computed_etag": result.multipart_etag},
        )
