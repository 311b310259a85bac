"""The object store port: what the platform asks of object storage, whatever the backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO, Protocol

from rivergen.objectstore.models import (
    CompletedPart,
    MultipartUpload,
    ObjectInfo,
    ObjectPage,
    PartTarget,
    UploadedPart,
    UploadSummary,
)

DEFAULT_PAGE_SIZE = 1000


class ObjectStore(Protocol):
    """Objects under opaque keys, and direct multipart uploads verified by the platform.

    Every method is async and raises only the platform's errors: ``BadRequest`` (code
    ``invalid_key`` for a key outside the rules of :mod:`rivergen.objectstore.keys`),
    ``NotFound`` (``object_not_found``, ``upload_not_found``), ``ChecksumMismatch``,
    ``Conflict``, ``PayloadTooLarge`` and ``DependencyUnavailable`` (the backend did not answer;
    retry later).
    """

    @property
    def kind(self) -> str:
        """``"s3"`` or ``"local"``, for logs and /readyz."""
        ...

    async def ensure_bucket(self) -> None:
        """Start-up: create the bucket (S3) or the root directory (local) if missing.

        Raises ``DependencyUnavailable`` if the backend does not answer and
        ``ConfigurationError`` if it refuses (credentials, bucket owned by someone else).
        """
        ...

    async def ping(self, timeout_s: float) -> float:
        """Check the bucket (directory) is reachable; latency in ms. Creates nothing."""
        ...

    async def close(self) -> None:
        """Release threads and connections. Idempotent."""
        ...

    async def put(self, key: str, data: bytes) -> ObjectInfo:
        """Store ``data`` under ``key`` atomically: readers see the old object or the new one."""
        ...

    async def put_file(self, key: str, source: BinaryIO) -> ObjectInfo:
        """Store the content of ``source`` (a seekable file, read from its start) under ``key``
        atomically, streamed in chunks, never held in memory at once. The stored bytes are
        checked against what was sent (S3: the MD5 sent with the request and the ETag)."""
        ...

    async def get(self, key: str) -> bytes:
        """The whole object; ``NotFound`` if there is none."""
        ...

    async def stat(self, key: str) -> ObjectInfo:
        """Size, ETag and time of the object; ``NotFound`` if there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Delete the object. Deleting a missing object is not an error."""
        ...

    async def create_multipart(
        self, key: str, part_count: int, part_size: int, *, part_url_template: str | None = None
    ) -> MultipartUpload:
        """Start a direct upload of ``part_count`` parts of ``part_size`` bytes (the last may
        be smaller; every other at least 5 MiB), with one target URL per part.

        ``part_url_template`` is for stores that receive the parts through the platform (the
        local store): a URL with ``{upload_id}`` and ``{part_number}`` placeholders. S3 ignores
        it and presigns ``UploadPart`` URLs.
        """
        ...

    async def part_targets(
        self,
        key: str,
        upload_id: str,
        part_numbers: Sequence[int],
        *,
        part_url_template: str | None = None,
    ) -> list[PartTarget]:
        """Fresh targets for some parts of an upload in progress (to resume after the first
        URLs expired)."""
        ...

    async def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """The parts received so far, by number; ``NotFound`` if the upload is gone."""
        ...

    async def list_uploads(self, prefix: str = "") -> list[UploadSummary]:
        """Uploads in progress whose key starts with ``prefix``."""
        ...

    async def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[CompletedPart],
        expected_size: int,
        expected_checksum: str,
    ) -> ObjectInfo:
        """Assemble the parts into the object and verify it (see
        :mod:`rivergen.objectstore.multipart`): the declared part ETags, the layout, the total
        size, the SHA-256 of the content (``expected_checksum="sha256:<hex>"``) and the
        multipart ETag.

        A failed check raises ``ChecksumMismatch`` or ``BadRequest`` (``size_mismatch``,
        ``part_missing``, ``part_too_small``) and leaves nothing behind: no object under
        ``key`` (the previous one too is gone on S3; use a fresh key per upload) and no upload
        in progress. A malformed request (``invalid_parts``, ``invalid_checksum``) changes
        nothing.
        """
        ...

    async def download_url(self, key: str, *, platform_url: str) -> str:
        """Where a client downloads the object: a presigned GET on S3 (valid for the presign
        expiry, 1 h by default), ``platform_url`` (the platform streams it) for the local
        store."""
        ...

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an upload and its parts. Aborting an upload that is gone is not an error."""
        ...

    # Last in the class body: below it, `list` would name this method in annotations.
    async def list(
        self, prefix: str = "", limit: int = DEFAULT_PAGE_SIZE, start_after: str | None = None
    ) -> ObjectPage:
        """Up to ``limit`` (1..1000) objects whose key starts with ``prefix``, in key order,
        after ``start_after``; follow ``next_start_after`` for the next page."""
        ...
