"""Storage Service: direct uploads that go straight to object storage, verified by the platform
before any file exists, and the files they make.

An upload moves open -> completing -> completed (or aborted / failed). The file row and its
events (`storage.file.created`, `usage.storage.changed`) are written in one transaction only
after the object store has verified size and SHA-256, so a failed upload leaves no file, no
event and no object. No transaction is held open across a call to object storage.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO
from uuid import UUID

from rivergen.accounts.principal import RequestContext
from rivergen.billing import USAGE_STORAGE_CHANGED, Quota, QuotaService, plan_for
from rivergen.db import Database
from rivergen.errors import BadRequest, ChecksumMismatch, Conflict, NotFound, PayloadTooLarge
from rivergen.events import Event, Topic, add_to_outbox
from rivergen.metrics import record_upload
from rivergen.objectstore import ObjectStore
from rivergen.objectstore.multipart import READ_CHUNK
from rivergen.pagination import after_cursor, decode_cursor, encode_cursor
from rivergen.services.governance import GovernanceService
from rivergen.settings import StorageSettings
from rivergen.storage.schemas import (
    FileDownload,
    FilePage,
    FileView,
    QuotaView,
    UploadComplete,
    UploadedPartView,
    UploadStart,
    UploadStarted,
)

FILE_CREATED = "storage.file.created"
_FILE_COLUMNS = "id, name, content_type, size, sha256, created_at"


def _upload_not_found(upload: UUID) -> NotFound:
    return NotFound(f"upload {upload} not found", code="upload_not_found")


def _file_not_found(file: UUID) -> NotFound:
    return NotFound(f"file {file} not found", code="file_not_found")


class StorageService:
    def __init__(
        self,
        db: Database,
        objects: ObjectStore,
        settings: StorageSettings | None = None,
        governance: GovernanceService | None = None,
    ) -> None:
        self._db = db
        self._objects = objects
        self._settings = settings or StorageSettings()
        self._quotas = QuotaService(db)
        self._governance = governance

    @property
    def form_upload_max_bytes(self) -> int:
        return self._settings.form_upload_max_bytes

    async def start_upload(
        self, context: RequestContext, request: UploadStart, part_url_template: str
    ) -> UploadStarted:
        """Check the quota, open a multipart upload under a fresh key, return the part URLs."""
        workspace = context.require_workspace()
        await self._quotas.check(None, workspace, Quota.STORAGE_BYTES, request.size)
        upload, file = uuid.uuid4(), uuid.uuid4()
        key = f"workspaces/{workspace}/files/{file}/{upload}"
        part_count = max(1, math.ceil(request.size / request.part_size))
        started = await self._objects.create_multipart(
            key, part_count, request.part_size, part_url_template=part_url_template
        )
        expires = datetime.now(UTC) + timedelta(seconds=self._settings.upload_lifetime_s)
        async with self._db.transaction(str(workspace)) as conn:
            await conn.execute(
                "INSERT INTO uploads (id, workspace_id, file_id, name, content_type, size, "
                "sha256, object_key, store_upload_id, part_size, part_count, created_by, "
                "expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                upload,
                workspace,
                file,
                request.name,
                request.content_type,
                request.size,
                request.sha256,
                key,
                started.upload_id,
                request.part_size,
                part_count,
                context.actor,
                expires,
            )
        return UploadStarted(
            upload_id=upload,
            file_id=file,
            part_size=request.part_size,
            parts=started.parts,
            expires_at=expires,
        )

    async def _upload(self, workspace: UUID, upload: UUID) -> Any:
        async with self._db.transaction(str(workspace)) as conn:
            row = await conn.fetchrow("SELECT * FROM uploads WHERE id = $1", upload)
        if row is None:
            raise _upload_not_found(upload)
        return row

    async def upload_by_store_id(self, context: RequestContext, store_upload_id: str) -> Any:
        """The open upload behind a local-store part URL, in the caller's workspace."""
        async with self._db.transaction(str(context.require_workspace())) as conn:
            row = await conn.fetchrow(
                "SELECT * FROM uploads WHERE store_upload_id = $1 AND status = 'open'",
                store_upload_id,
            )
        if row is None:
            raise NotFound("upload not found", code="upload_not_found")
        return row

    async def list_parts(self, context: RequestContext, upload: UUID) -> list[UploadedPartView]:
        """The parts stored so far, to resume an interrupted upload."""
        row = await self._upload(context.require_workspace(), upload)
        if row["status"] != "open":
            raise Conflict(f"upload {upload} is {row['status']}", code=f"upload_{row['status']}")
        parts = await self._objects.list_parts(row["object_key"], row["store_upload_id"])
        return [UploadedPartView(**p.model_dump()) for p in parts]

    async def complete(
        self, context: RequestContext, upload: UUID, request: UploadComplete
    ) -> FileView:
        started = time.perf_counter()
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            row = await conn.fetchrow("SELECT * FROM uploads WHERE id = $1 FOR UPDATE", upload)
            if row is None:
                raise _upload_not_found(upload)
            if row["status"] != "open":
                raise Conflict(
                    f"upload {upload} is {row['status']}", code=f"upload_{row['status']}"
                )
            if row["expires_at"] <= datetime.now(UTC):
                # The sweeper aborts it; its part URLs no longer work either.
                raise Conflict(f"upload {upload} expired", code="upload_expired")
            refusal = _missing_parts(row["part_count"], request)
            status = "failed" if refusal else "completing"
            await conn.execute("UPDATE uploads SET status = $2 WHERE id = $1", upload, status)
        if refusal:
            await self._objects.abort_multipart(row["object_key"], row["store_upload_id"])
            record_upload(
                row["size"], "direct", seconds=time.perf_counter() - started, outcome="failed"
            )
            raise refusal
        try:
            await self._objects.complete_multipart(
                row["object_key"],
                row["store_upload_id"],
                request.parts,
                expected_size=row["size"],
                expected_checksum=f"sha256:{row['sha256']}",
            )
        except BaseException:
            await self._set_status(workspace, upload, "failed")
            record_upload(
                row["size"], "direct", seconds=time.perf_counter() - started, outcome="failed"
            )
            raise
        view = await self._create_file(context, workspace, row, upload=upload)
        record_upload(view.size, "direct", seconds=time.perf_counter() - started)
        return view

    async def upload_file(
        self,
        context: RequestContext,
        source: BinaryIO,
        *,
        name: str,
        content_type: str,
        sha256: str | None = None,
    ) -> FileView:
        """The one-shot upload of a small file (a seekable file, read in chunks): size cap,
        quota, optional declared SHA-256, then one streamed PUT verified by object storage
        (S3: MD5 against the ETag), then the file row and its events in one transaction."""
        started = time.perf_counter()
        try:
            view = await self._upload_file(context, source, name, content_type, sha256)
        except BaseException:
            record_upload(0, "form", seconds=time.perf_counter() - started, outcome="failed")
            raise
        record_upload(view.size, "form", seconds=time.perf_counter() - started)
        return view

    async def _upload_file(
        self,
        context: RequestContext,
        source: BinaryIO,
        name: str,
        content_type: str,
        sha256: str | None,
    ) -> FileView:
        workspace = context.require_workspace()
        size, digest = await asyncio.to_thread(_measure, source, self.form_upload_max_bytes + 1)
        if size > self.form_upload_max_bytes:
            raise PayloadTooLarge(
                f"a form upload holds at most {self.form_upload_max_bytes} bytes; "
                "use a direct upload (POST /api/v1/storage/uploads)",
                code="upload_too_large",
            )
        if size == 0:
            raise BadRequest("the file is empty", code="empty_file")
        if sha256 is not None and sha256 != digest:
            raise ChecksumMismatch(
                "the content does not match the declared SHA-256", code="checksum_mismatch"
            )
        await self._quotas.check(None, workspace, Quota.STORAGE_BYTES, size)
        file = uuid.uuid4()
        key = f"workspaces/{workspace}/files/{file}/{uuid.uuid4()}"
        await self._objects.put_file(key, source)
        row = {
            "file_id": file,
            "name": name,
            "content_type": content_type,
            "size": size,
            "sha256": digest,
            "object_key": key,
        }
        try:
            return await self._create_file(context, workspace, row, upload=None)
        except BaseException:
            await self._objects.delete(key)
            raise

    async def _create_file(
        self, context: RequestContext, workspace: UUID, row: Any, *, upload: UUID | None
    ) -> FileView:
        actor = context.actor
        async with self._db.transaction(str(workspace)) as conn:
            file = await conn.fetchrow(
                "INSERT INTO files (id, workspace_id, name, content_type, size, sha256, "
                f"object_key, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                f"RETURNING {_FILE_COLUMNS}",
                row["file_id"],
                workspace,
                row["name"],
                row["content_type"],
                row["size"],
                row["sha256"],
                row["object_key"],
                actor,
            )
            if upload is not None:
                await conn.execute("UPDATE uploads SET status = 'completed' WHERE id = $1", upload)
            view = FileView(**dict(file))
            await add_to_outbox(
                conn,
                Topic.STORAGE,
                Event(
                    type=FILE_CREATED,
                    workspace_id=workspace,
                    actor=actor,
                    data=view.model_dump(mode="json"),
                ),
            )
            await add_to_outbox(
                conn,
                Topic.STORAGE,
                Event(
                    type=USAGE_STORAGE_CHANGED,
                    workspace_id=workspace,
                    actor=actor,
                    data={"bytes_delta": view.size, "file_id": str(view.id)},
                ),
            )
        return view

    async def _set_status(self, workspace: UUID, upload: UUID, status: str) -> None:
        async with self._db.transaction(str(workspace)) as conn:
            await conn.execute("UPDATE uploads SET status = $2 WHERE id = $1", upload, status)

    async def abort(self, context: RequestContext, upload: UUID) -> None:
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            row = await conn.fetchrow(
                "UPDATE uploads SET status = 'aborted' WHERE id = $1 AND status = 'open' "
                "RETURNING object_key, store_upload_id",
                upload,
            )
            if row is None:
                exists = await conn.fetchval("SELECT status FROM uploads WHERE id = $1", upload)
                if exists is None:
                    raise _upload_not_found(upload)
                raise Conflict(f"upload {upload} is {exists}", code=f"upload_{exists}")
        await self._objects.abort_multipart(row["object_key"], row["store_upload_id"])

    # Files -------------------------------------------------------------------------------

    async def list_files(self, context: RequestContext, limit: int, cursor: str | None) -> FilePage:
        workspace = context.require_workspace()
        after = decode_cursor(cursor)
        async with self._db.transaction(str(workspace)) as conn:
            rows = await conn.fetch(
                f"SELECT {_FILE_COLUMNS} FROM files WHERE workspace_id = $1 "
                f"AND {after_cursor(2)} ORDER BY created_at DESC, id DESC LIMIT $4",
                workspace,
                after[0],
                after[1],
                limit + 1,
            )
        items = [FileView(**dict(r)) for r in rows[:limit]]
        next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return FilePage(items=items, next_cursor=next_cursor)

    async def _file(self, workspace: UUID, file: UUID) -> Any:
        async with self._db.transaction(str(workspace)) as conn:
            row = await conn.fetchrow(
                f"SELECT {_FILE_COLUMNS}, object_key FROM files WHERE id = $1", file
            )
        if row is None:
            raise _file_not_found(file)
        return row

    async def _raw_access(self, context: RequestContext, file: UUID) -> None:
        # An uploaded file's bytes are what its datasets were made of: a caller whom the
        # workspace's policies govern reads them through those datasets only.
        if self._governance is not None:
            await self._governance.check_raw_access(context, f"file {file}")

    async def get_file(
        self, context: RequestContext, file: UUID, platform_url: str
    ) -> FileDownload:
        row = await self._file(context.require_workspace(), file)
        await self._raw_access(context, file)
        url = await self._objects.download_url(row["object_key"], platform_url=platform_url)
        fields = {k: v for k, v in dict(row).items() if k != "object_key"}
        return FileDownload(**fields, download_url=url)

    async def content(self, context: RequestContext, file: UUID) -> tuple[FileView, bytes]:
        """The bytes of a file (the local store's download; S3 clients use the presigned URL)."""
        row = await self._file(context.require_workspace(), file)
        await self._raw_access(context, file)
        data = await self._objects.get(row["object_key"])
        return FileView(**{k: v for k, v in dict(row).items() if k != "object_key"}), data

    async def delete_file(self, context: RequestContext, file: UUID) -> None:
        workspace = context.require_workspace()
        actor = context.actor
        async with self._db.transaction(str(workspace)) as conn:
            row = await conn.fetchrow(
                "DELETE FROM files WHERE id = $1 RETURNING size, object_key", file
            )
            if row is None:
                raise _file_not_found(file)
            await add_to_outbox(
                conn,
                Topic.STORAGE,
                Event(
                    type=USAGE_STORAGE_CHANGED,
                    workspace_id=workspace,
                    actor=actor,
                    data={"bytes_delta": -row["size"], "file_id": str(file)},
                ),
            )
        await self._objects.delete(row["object_key"])

    async def quota(self, context: RequestContext, plan: str) -> QuotaView:
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            used = await conn.fetchval(
                "SELECT coalesce(sum(size), 0) FROM files WHERE workspace_id = $1", workspace
            )
        return QuotaView(used_bytes=int(used), limit_bytes=plan_for(plan).quotas.storage_bytes)


def _missing_parts(part_count: int, request: UploadComplete) -> BadRequest | None:
    """Refuses a completion that does not name every part the upload was planned with."""
    declared = {part.part_number for part in request.parts}
    planned = set(range(1, part_count + 1))
    if missing := sorted(planned - declared):
        return BadRequest(
            f"parts {missing} are missing from the completion",
            code="part_missing",
            details={"part_numbers": missing},
        )
    if extra := sorted(declared - planned):
        return BadRequest(
            f"parts {extra} are beyond the {part_count} planned",
            code="invalid_parts",
            details={"part_numbers": extra},
        )
    return None


def _measure(source: BinaryIO, limit: int) -> tuple[int, str]:
    """Size and SHA-256 of a file, reading at most ``limit`` bytes."""
    sha = hashlib.sha256()
    size = 0
    source.seek(0)
    while size < limit and (chunk := source.read(min(READ_CHUNK, limit - size))):
        sha.update(chunk)
        size += len(chunk)
    source.seek(0)
    return size, sha.hexdigest()
