"""Routes of the Storage Service: direct uploads and files."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from rivergen.api.accounts import ERRORS
from rivergen.api.security import Context, Core, authorize
from rivergen.errors import NotFound
from rivergen.objectstore import LocalObjectStore
from rivergen.storage import StorageService
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

router = APIRouter(
    prefix="/api/v1/storage", dependencies=[Depends(authorize)], responses=ERRORS,
    tags=["storage"],
)  # fmt: skip


def _storage(request: Request) -> StorageService:
    service: StorageService = request.app.state.storage
    return service


Storage = Annotated[StorageService, Depends(_storage)]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.post("/uploads", status_code=status.HTTP_201_CREATED)
async def start_upload(
    body: UploadStart, context: Context, storage: Storage, request: Request
) -> UploadStarted:
    """Start a direct upload (quota checked): PUT each part's bytes to its URL, keep each
    response's `ETag`, then complete. Parts of 16 MiB by default, at least 5 MiB but the last."""
    template = f"{_base(request)}/api/v1/storage/parts/{{upload_id}}/{{part_number}}"
    return await storage.start_upload(context, body, template)


@router.get("/uploads/{upload_id}/parts")
async def list_parts(upload_id: UUID, context: Context, storage: Storage) -> list[UploadedPartView]:
    """The parts received so far: resume an interrupted upload with the missing ones."""
    return await storage.list_parts(context, upload_id)


@router.put("/parts/{store_upload_id}/{part_number}")
async def put_part(
    store_upload_id: str, part_number: int, context: Context, storage: Storage, request: Request
) -> Response:
    """The embedded store's part endpoint (on S3 the part URLs are presigned S3 URLs)."""
    objects = request.app.state.clients.objects
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
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> FilePage:
    """Newest first; follow `next_cursor`."""
    return await storage.list_files(context, limit, cursor)


@router.get("/files/{file_id}")
async def get_file(
    file_id: UUID, context: Context, storage: Storage, request: Request
) -> FileDownload:
    url = f"{_base(request)}/api/v1/storage/files/{file_id}/content"
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
async def quota(context: Context, storage: Storage, core: Core) -> QuotaView:
    plan = await core.billing_plan(context.require_workspace())
    return await storage.quota(context, plan.name)
