"""Requests and responses of uploads and files."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from rivergen.objectstore import CompletedPart, PartTarget

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 16 * MiB
MAX_FILE_SIZE = 5 * 1024 * 1024 * MiB  # 5 TiB, S3's own limit


class UploadStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, description="The file's name.")
    size: int = Field(gt=0, le=MAX_FILE_SIZE, description="Exact size in bytes.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the content, hex.")
    content_type: str = Field("application/octet-stream", max_length=255)
    part_size: int = Field(
        DEFAULT_PART_SIZE, ge=5 * MiB, le=5 * 1024 * MiB, description="Bytes per part but the last."
    )


class UploadStarted(BaseModel):
    upload_id: UUID
    file_id: UUID
    part_size: int
    parts: list[PartTarget] = Field(description="PUT each part's bytes to its URL; keep the ETag.")
    expires_at: datetime


class UploadComplete(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parts: list[CompletedPart] = Field(min_length=1, max_length=10_000)


class UploadedPartView(BaseModel):
    part_number: int
    etag: str
    size: int


class FileView(BaseModel):
    id: UUID
    name: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


class FileDownload(FileView):
    download_url: str = Field(description="GET the content here (presigned for 1 h on S3).")


class FilePage(BaseModel):
    items: list[FileView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class QuotaView(BaseModel):
    used_bytes: int
    limit_bytes: int
