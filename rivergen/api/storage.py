"""Routes of the Storage Service: direct uploads and files."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response, status
from starlette.datastructures import UploadFile
from starlette.types import Message, Receive

from rivergen.api.accounts import ERRORS
from rivergen.api.deps import ClientsDep, PageCursor, PageLimit, StorageDep
from rivergen.api.security import Context, authorize, gatekeeper_of
from rivergen.errors import BadRequest, NotFound, PayloadTooLarge
from rivergen.objectstore import LocalObjectStore
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

PREFIX = "/api/v1/storage"
# Room for the form's boundaries, part headers and small fields around the file.
_FORM_OVERHEAD = 64 * 1024

router = APIRouter(
    prefix=PREFIX,
    dependencies=[Depends(authorize)],
    responses=ERRORS,
    tags=["storage"],
)


Storage = StorageDep


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.post("/uploads", status_code=status.HTTP_201_CREATED)
async def start_upload(
    body: UploadStart, context: Context, storage: Storage, request: Request
) -> UploadStarted:
    """Start a direct upload (quota checked): PUT each part's bytes to its URL, keep each
    response's `ETag`, then complete. Parts of 16 MiB by default, at least 5 MiB but the last."""
    template = f"{_base(request)}{PREFIX}/parts/{{upload_id}}/{{part_number}}"
    return await storage.start_upload(context, body, template)


@router.get("/uploads/{upload_id}/parts")
async def list_parts(upload_id: UUID, context: Context, storage: Storage) -> list[UploadedPartView]:
    """The parts received so far: resume an interrupted upload with the missing ones."""
    return await storage.list_parts(context, upload_id)


@router.put("/parts/{store_upload_id}/{part_number}")
async def put_part(
    store_upload_id: str,
    part_number: int,
    context: Context,
    storage: Storage,
    request: Request,
    clients: ClientsDep,
) -> Response:
    """The embedded store's part endpoint (on S3 the part URLs are presigned S3 URLs)."""
    objects = clients.objects
    if not isinstance(objects, LocalObjectStore):
        raise NotFound("parts go straight to object storage", code="upload_not_found")
    await storage.upload_by_store_id(context, store_upload_id)
    part = await objects.write_part(store_upload_id, part_number, request.stream())
    return Response(status_code=status.HTTP_200_OK, headers={"ETag": f'"{part.etag}"'})


@router.post("/uploads/{upload_id}/complete", status_code=status.HTTP_201_CREATED)
async def complete_upload(
    upload_id: UUID, body: UploadComplete, context: Context, storage: Storage
) -> FileView:
    """Verify size and SHA-256 and create the file; a mismatch leaves nothing behind."""
    return await storage.complete(context, upload_id, body)


@router.delete("/uploads/{upload_id}", status_code=status.HTTP_204_NO_CONTENT)
async def abort_upload(upload_id: UUID, context: Context, storage: Storage) -> Response:
    await storage.abort(context, upload_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/files")
async def list_files(
    context: Context,
    storage: Storage,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> FilePage:
    """Newest first; follow `next_cursor`."""
    return await storage.list_files(context, limit, cursor)


@router.get("/files/{file_id}")
async def get_file(
    file_id: UUID, context: Context, storage: Storage, request: Request
) -> FileDownload:
    url = f"{_base(request)}{PREFIX}/files/{file_id}/content"
    return await storage.get_file(context, file_id, url)


@router.get("/files/{file_id}/content")
async def file_content(file_id: UUID, context: Context, storage: Storage) -> Response:
    view, data = await storage.content(context, file_id)
    return Response(data, media_type=view.content_type)


@router.delete("/files/{file_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_file(file_id: UUID, context: Context, storage: Storage) -> Response:
    await storage.delete_file(context, file_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/quota")
async def quota(context: Context, storage: Storage, request: Request) -> QuotaView:
    plan = await gatekeeper_of(request).plan_of(context.require_workspace())
    return await storage.quota(context, plan.name)


def _bounded(receive: Receive, limit: int) -> Receive:
    """``receive`` that refuses a body longer than ``limit`` as it arrives."""
    received = 0

    async def bounded() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit - _FORM_OVERHEAD)
        return message

    return bounded


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"a form upload holds at most {limit} bytes; use a direct upload (POST {PREFIX}/uploads)",
        code="upload_too_large",
    )


_FORM_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {
                            "type": "string",
                            "maxLength": 255,
                            "description": "The file's name (default: the part's).",
                        },
                        "sha256": {
                            "type": "string",
                            "pattern": "^[0-9a-f]{64}$",
                            "description": "Checked against the content if given.",
                        },
                    },
                }
            }
        },
    }
}


@router.post("/upload", status_code=status.HTTP_201_CREATED, openapi_extra=_FORM_SCHEMA)
async def upload_form(context: Context, storage: Storage, request: Request) -> FileView:
    """A small file in one request (multipart form, field `file`; optional `name`, `sha256`):
    quota checked, verified, and the same `storage.file.created` event as a direct upload.
    Larger than `RIVERGEN_STORAGE__FORM_UPLOAD_MAX_BYTES` (16 MiB by default): 413
    `upload_too_large`. The body is spooled to disk as it arrives, never held in memory."""
    limit = storage.form_upload_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _FORM_OVERHEAD:
        raise _too_large(limit)
    bounded = Request(request.scope, _bounded(request.receive, limit + _FORM_OVERHEAD))
    async with bounded.form(max_files=1, max_fields=4) as form:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise BadRequest("send the file in the form field `file`", code="file_required")
        name = _field(form.get("name")) or file.filename or "upload"
        sha256 = _field(form.get("sha256"))
        return await storage.upload_file(
            context,
            file.file,
            name=name[:255],
            content_type=(file.content_type or "application/octet-stream")[:255],
            sha256=sha256.lower() if sha256 else None,
        )


def _field(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
