"""The S3 adapter: boto3 calls in a small thread pool, vendor errors translated here.

Works with AWS S3, MinIO and moto's server mode. Clients send part bytes straight to S3 through
presigned ``UploadPart`` URLs; the platform verifies the assembled object itself on completion
(see :mod:`rivergen.objectstore.multipart`), since not every S3 server checks what it receives.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from rivergen.errors import (
    BadRequest,
    ChecksumMismatch,
    ConfigurationError,
    Conflict,
    DependencyUnavailable,
    NotFound,
    RiverGenError,
)
from rivergen.objectstore.keys import check_page_limit, validate_key, validate_prefix
from rivergen.objectstore.models import (
    CompletedPart,
    MultipartUpload,
    ObjectInfo,
    ObjectPage,
    PartTarget,
    UploadedPart,
    UploadSummary,
)
from rivergen.objectstore.multipart import (
    READ_CHUNK,
    DigestResult,
    check_assembled_etag,
    check_content,
    check_new_upload,
    check_part_etags,
    check_part_layout,
    check_part_numbers,
    normalize_etag,
    order_declared,
    parse_sha256,
    sha256_concurrently,
)
from rivergen.objectstore.port import DEFAULT_PAGE_SIZE
from rivergen.settings import S3Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType
    from mypy_boto3_s3.type_defs import ListObjectsV2RequestTypeDef

logger = logging.getLogger(__name__)

T = TypeVar("T")

_OBJECT_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
_BUCKET_MISSING = frozenset({"404", "NoSuchBucket", "NotFound"})
_REFUSED = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "403"}
)
_BAD_PARTS = {
    "InvalidPart": "part_missing",
    "InvalidPartOrder": "invalid_parts",
    "EntityTooSmall": "part_too_small",
}


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _describe(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', '?')}: {error.get('Message', '')}".rstrip(": ")


def _translate(exc: ClientError, key: str | None, upload_id: str | None) -> RiverGenError:
    """One S3 error as the platform's error; ``key`` and ``upload_id`` name what was asked for."""
    code = _error_code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    if code == "NoSuchUpload":
        return NotFound(f"upload {upload_id!r} of {key!r} not found", code="upload_not_found")
    if code == "NoSuchBucket":
        return DependencyUnavailable(f"object storage bucket is missing ({_describe(exc)})")
    if code in _OBJECT_MISSING:
        return NotFound(f"object {key!r} not found", code="object_not_found")
    if code in _BAD_PARTS:
        return BadRequest(
            f"object storage refused the parts ({_describe(exc)})", code=_BAD_PARTS[code]
        )
    if code == "PreconditionFailed":
        return Conflict(f"object {key!r} changed meanwhile", code="object_changed")
    if code in _REFUSED or status >= 500:
        return DependencyUnavailable(f"object storage refused the request ({_describe(exc)})")
    return RiverGenError(f"object storage error ({_describe(exc)})", code="object_storage_error")


def _client_config(
    settings: S3Settings,
    connect_timeout_s: float,
    read_timeout_s: float,
    max_attempts: int,
    max_workers: int,
) -> Config:
    return Config(
        region_name=settings.region,
        signature_version="s3v4",
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        # `total_max_attempts` counts the first try; botocore's `max_attempts` counts retries.
        retries={"total_max_attempts": max_attempts, "mode": "standard"},
        max_pool_connections=max_workers,
        # A custom endpoint (MinIO, moto, an IP address) has no per-bucket DNS names.
        s3={"addressing_style": "path" if settings.endpoint_url else "auto"},
        # botocore >= 1.36 adds CRC checksums to every upload by default, which some
        # S3-compatible servers refuse; the platform verifies content itself.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


def s3_client(
    settings: S3Settings,
    connect_timeout_s: float = 5.0,
    read_timeout_s: float = 60.0,
    max_attempts: int = 3,
    max_workers: int = 8,
) -> S3Client:
    """A boto3 S3 client configured as the platform's store uses it (also for compute tasks)."""
    config = _client_config(settings, connect_timeout_s, read_timeout_s, max_attempts, max_workers)
    # A session per client: boto3's default session is not thread-safe, its clients are.
    client: S3Client = boto3.session.Session().client(
        "s3",
        endpoint_url=settings.endpoint_url,
        aws_access_key_id=_secret(settings.access_key_id),
        aws_secret_access_key=_secret(settings.secret_access_key),
        config=config,
    )
    return client


class S3ObjectStore:
    """Objects in one S3 bucket. Thread-safe; build one per process and share it."""

    def __init__(
        self,
        settings: S3Settings,
        *,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        max_attempts: int = 3,
        max_workers: int = 8,
    ) -> None:
        """Timeouts and attempts apply to each S3 request (retries back off, as botocore's
        standard mode does); ``max_workers`` bounds the requests in flight at once."""
        if settings.bucket is None:
            raise ConfigurationError(
                "object storage is configured (RIVERGEN_S3__ENDPOINT_URL) without a bucket: "
                "set RIVERGEN_S3__BUCKET"
            )
        self._bucket = settings.bucket
        self._region = settings.region
        self._presign_expiry_s = settings.presign_expiry_s
        self._client = s3_client(
            settings, connect_timeout_s, read_timeout_s, max_attempts, max_workers
        )
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="rivergen-s3")
        self._closed = False

    @property
    def kind(self) -> str:
        return "s3"

    @property
    def bucket(self) -> str:
        return self._bucket

    async def _run(
        self, call: Callable[[], T], *, key: str | None = None, upload_id: str | None = None
    ) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, call)
        except ClientError as exc:
            raise _translate(exc, key, upload_id) from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable(f"object storage is unavailable: {exc}") from exc

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._client.close()

    # -- bucket -------------------------------------------------------------------------------

    async def ensure_bucket(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._ensure_bucket_sync)
        except ClientError as exc:
            raise ConfigurationError(
                f"object storage bucket {self._bucket!r} can be neither reached nor created "
                f"({_describe(exc)})"
            ) from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable(f"object storage is unavailable: {exc}") from exc

    def _ensure_bucket_sync(self) -> None:
        try:
            self._client.head_bucket(Bucket=self._bucket)
            return
        except ClientError as exc:
            if _error_code(exc) not in _BUCKET_MISSING:
                raise
        try:
            if self._region == "us-east-1":
                self._client.create_bucket(Bucket=self._bucket)
            else:
                self._client.create_bucket(
                    Bucket=self._bucket,
                    # Any region name: MinIO and other servers have their own.
                    CreateBucketConfiguration={
                        "LocationConstraint": cast("BucketLocationConstraintType", self._region)
                    },
                )
        except ClientError as exc:
            if _error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
        logger.info("created object storage bucket %s", self._bucket)

    async def ping(self, timeout_s: float) -> float:
        start = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout_s):
                await loop.run_in_executor(
                    self._executor, lambda: self._client.head_bucket(Bucket=self._bucket)
                )
        except ClientError as exc:
            raise DependencyUnavailable(
                f"object storage bucket {self._bucket!r} is not usable ({_describe(exc)})"
            ) from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable(f"object storage is unavailable: {exc}") from exc
        except TimeoutError as exc:
            raise DependencyUnavailable(
                f"object storage did not answer within {timeout_s}s"
            ) from exc
        return (time.perf_counter() - start) * 1000.0

    # -- objects ------------------------------------------------------------------------------

    async def put(self, key: str, data: bytes) -> ObjectInfo:
        validate_key(key)
        sent_md5, etag = await self._run(lambda: self._put_sync(key, data), key=key)
        # Servers that ignore Content-MD5 still report the MD5 they computed as the ETag
        # (unless the object is KMS- or customer-key encrypted, where the ETag is no MD5).
        if len(etag) == 32 and etag != sent_md5:
            await self.delete(key)
            raise ChecksumMismatch(f"object storage stored other bytes for {key!r} than were sent")
        return ObjectInfo(key=key, size=len(data), etag=etag, last_modified=None)

    def _put_sync(self, key: str, data: bytes) -> tuple[str, str]:
        md5 = hashlib.md5(data, usedforsecurity=False)
        response = self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentMD5=base64.b64encode(md5.digest()).decode("ascii"),
        )
        return md5.hexdigest(), normalize_etag(response["ETag"])

    async def put_file(self, key: str, source: BinaryIO) -> ObjectInfo:
        validate_key(key)
        sent_md5, etag, size = await self._run(lambda: self._put_file_sync(key, source), key=key)
        if len(etag) == 32 and etag != sent_md5:
            await self.delete(key)
            raise ChecksumMismatch(f"object storage stored other bytes for {key!r} than were sent")
        return ObjectInfo(key=key, size=size, etag=etag, last_modified=None)

    def _put_file_sync(self, key: str, source: BinaryIO) -> tuple[str, str, int]:
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        source.seek(0)
        while chunk := source.read(READ_CHUNK):
            md5.update(chunk)
            size += len(chunk)
        source.seek(0)
        # botocore streams a file body; one PUT takes up to 5 GiB.
        response = self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=source,
            ContentLength=size,
            ContentMD5=base64.b64encode(md5.digest()).decode("ascii"),
        )
        return md5.hexdigest(), normalize_etag(response["ETag"]), size

    async def get(self, key: str) -> bytes:
        validate_key(key)
        return await self._run(lambda: self._get_sync(key), key=key)

    def _get_sync(self, key: str) -> bytes:
        response = self._client.get_object(Bucket=self._bucket, Key=key)
        with closing(response["Body"]) as body:
            return body.read()

    async def stat(self, key: str) -> ObjectInfo:
        validate_key(key)
        response = await self._run(
            lambda: self._client.head_object(Bucket=self._bucket, Key=key), key=key
        )
        return ObjectInfo(
            key=key,
            size=response["ContentLength"],
            etag=normalize_etag(response["ETag"]),
            last_modified=response["LastModified"].astimezone(UTC),
        )

    async def delete(self, key: str) -> None:
        validate_key(key)
        await self._run(lambda: self._client.delete_object(Bucket=self._bucket, Key=key), key=key)

    # -- multipart ----------------------------------------------------------------------------

    async def create_multipart(
        self, key: str, part_count: int, part_size: int, *, part_url_template: str | None = None
    ) -> MultipartUpload:
        validate_key(key)
        check_new_upload(part_count, part_size)
        expires_at = datetime.now(UTC) + timedelta(seconds=self._presign_expiry_s)
        response = await self._run(
            lambda: self._client.create_multipart_upload(Bucket=self._bucket, Key=key), key=key
        )
        upload_id = response["UploadId"]
        try:
            targets = await self._run(
                lambda: self._presign_parts(key, upload_id, range(1, part_count + 1))
            )
        except BaseException:
            await self._discard(key, upload_id, object_written=False)
            raise
        return MultipartUpload(
            upload_id=upload_id, key=key, part_size=part_size, parts=targets, expires_at=expires_at
        )

    async def part_targets(
        self,
        key: str,
        upload_id: str,
        part_numbers: Sequence[int],
        *,
        part_url_template: str | None = None,
    ) -> list[PartTarget]:
        validate_key(key)
        check_part_numbers(part_numbers)
        # Presigning is offline: ask S3 once that the upload still exists.
        await self._run(
            lambda: self._client.list_parts(
                Bucket=self._bucket, Key=key, UploadId=upload_id, MaxParts=1
            ),
            key=key,
            upload_id=upload_id,
        )
        return await self._run(lambda: self._presign_parts(key, upload_id, part_numbers))

    async def download_url(self, key: str, *, platform_url: str) -> str:
        validate_key(key)
        return await self._run(
            lambda: self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": key},
                ExpiresIn=self._presign_expiry_s,
            ),
            key=key,
        )

    def _presign_parts(
        self, key: str, upload_id: str, part_numbers: Sequence[int]
    ) -> list[PartTarget]:
        return [
            PartTarget(
                part_number=number,
                url=self._client.generate_presigned_url(
                    "upload_part",
                    Params={
                        "Bucket": self._bucket,
                        "Key": key,
                        "UploadId": upload_id,
                        "PartNumber": number,
                    },
                    ExpiresIn=self._presign_expiry_s,
                    HttpMethod="PUT",
                ),
                method="PUT",
            )
            for number in part_numbers
        ]

    async def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        validate_key(key)
        return await self._run(
            lambda: self._list_parts_sync(key, upload_id), key=key, upload_id=upload_id
        )

    def _list_parts_sync(self, key: str, upload_id: str) -> list[UploadedPart]:
        parts: list[UploadedPart] = []
        marker = 0
        while True:
            response = self._client.list_parts(
                Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
            )
            parts.extend(
                UploadedPart(
                    part_number=part["PartNumber"],
                    etag=normalize_etag(part["ETag"]),
                    size=part["Size"],
                )
                for part in response.get("Parts", [])
            )
            if not response.get("IsTruncated"):
                return parts
            marker = response["NextPartNumberMarker"]

    async def list_uploads(self, prefix: str = "") -> list[UploadSummary]:
        validate_prefix(prefix)
        return await self._run(lambda: self._list_uploads_sync(prefix))

    def _list_uploads_sync(self, prefix: str) -> list[UploadSummary]:
        uploads: list[UploadSummary] = []
        markers: dict[str, Any] = {}
        while True:
            response = self._client.list_multipart_uploads(
                Bucket=self._bucket, Prefix=prefix, **markers
            )
            uploads.extend(
                UploadSummary(
                    key=upload["Key"],
                    upload_id=upload["UploadId"],
                    initiated=upload["Initiated"].astimezone(UTC),
                )
                for upload in response.get("Uploads", [])
            )
            if not response.get("IsTruncated"):
                return uploads
            markers = {
                "KeyMarker": response["NextKeyMarker"],
                "UploadIdMarker": response["NextUploadIdMarker"],
            }

    async def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[CompletedPart],
        expected_size: int,
        expected_checksum: str,
    ) -> ObjectInfo:
        validate_key(key)
        declared = order_declared(parts, expected_size)
        expected_sha256 = parse_sha256(expected_checksum)
        stored = {part.part_number: part for part in await self.list_parts(key, upload_id)}
        try:
            check_part_layout(
                declared, {number: part.size for number, part in stored.items()}, expected_size
            )
            check_part_etags(declared, {number: part.etag for number, part in stored.items()})
        except BadRequest:
            await self._discard(key, upload_id, object_written=False)
            raise
        try:
            await self._run(
                lambda: self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={
                        "Parts": [
                            {
                                "PartNumber": part.part_number,
                                "ETag": f'"{stored[part.part_number].etag}"',
                            }
                            for part in declared
                        ]
                    },
                ),
                key=key,
                upload_id=upload_id,
            )
        except BadRequest:
            await self._discard(key, upload_id, object_written=False)
            raise
        # Any other failure of the call above leaves the key alone: the upload may have been
        # completed by a concurrent call (a client's retry) whose object is not ours to delete.
        try:
            info = await self.stat(key)
            check_assembled_etag([stored[p.part_number].etag for p in declared], info.etag)
            size, sha256 = await self._run(lambda: self._read_back_sync(key), key=key)
            check_content(DigestResult(size, sha256, ()), expected_sha256, expected_size, None)
        except BaseException:
            # An assembled object that was not verified must not stay.
            await self._discard(key, upload_id, object_written=True)
            raise
        return info

    def _read_back_sync(self, key: str) -> tuple[int, str]:
        # One stream: ranged reads in parallel were slower on moto's server (which copies the
        # object for each range); the hash runs beside the read instead.
        response = self._client.get_object(Bucket=self._bucket, Key=key)
        with closing(response["Body"]) as body:
            return sha256_concurrently(body.iter_chunks(READ_CHUNK))

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        validate_key(key)
        await self._run(lambda: self._abort_sync(key, upload_id), key=key, upload_id=upload_id)

    def _abort_sync(self, key: str, upload_id: str) -> None:
        # S3 may keep a part that was still arriving during the abort; abort until ListParts
        # says the upload is gone, as its documentation advises.
        for _ in range(3):
            try:
                self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=key, UploadId=upload_id
                )
                self._client.list_parts(Bucket=self._bucket, Key=key, UploadId=upload_id)
            except ClientError as exc:
                if _error_code(exc) == "NoSuchUpload":
                    return
                raise
        logger.warning("upload %s of %s still listed after three aborts", upload_id, key)

    async def _discard(self, key: str, upload_id: str, *, object_written: bool) -> None:
        """Best effort: leave neither an unverified object nor an upload in progress."""
        try:
            if object_written:
                await self.delete(key)
            await self.abort_multipart(key, upload_id)
        except RiverGenError:
            logger.warning("could not clean up upload %s of %s", upload_id, key, exc_info=True)

    # Last in the class body: below it, `list` would name this method in annotations.
    async def list(
        self, prefix: str = "", limit: int = DEFAULT_PAGE_SIZE, start_after: str | None = None
    ) -> ObjectPage:
        validate_prefix(prefix)
        check_page_limit(limit)
        request: ListObjectsV2RequestTypeDef = {
            "Bucket": self._bucket,
            "Prefix": prefix,
            "MaxKeys": limit,
        }
        if start_after:
            request["StartAfter"] = start_after
        response = await self._run(lambda: self._client.list_objects_v2(**request))
        items = [
            ObjectInfo(
                key=entry["Key"],
                size=entry["Size"],
                etag=normalize_etag(entry["ETag"]),
                last_modified=entry["LastModified"].astimezone(UTC),
            )
            for entry in response.get("Contents", [])
        ]
        truncated = bool(response.get("IsTruncated")) and bool(items)
        return ObjectPage(items=items, next_start_after=items[-1].key if truncated else None)


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()
