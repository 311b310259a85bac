"""What the object store hands back and takes in; pydantic, since these cross the API edge."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

MAX_PART_NUMBER = 10_000


class ObjectInfo(BaseModel):
    """One stored object."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="The object's key.")
    size: int = Field(ge=0, description="Size in bytes.")
    etag: str = Field(
        description="Entity tag without quotes. Opaque: it changes when the object is rewritten. "
        "On S3 it is the MD5 of a single-part object and `md5(part md5s)-N` for a multipart one."
    )
    last_modified: datetime | None = Field(
        None,
        description="Time of the last write; None where the store does not report it "
        "(the answer to an S3 put).",
    )


class ObjectPage(BaseModel):
    """One page of a listing, keys in ascending (UTF-8 byte) order."""

    model_config = ConfigDict(frozen=True)

    items: list[ObjectInfo]
    next_start_after: str | None = Field(
        None, description="Pass as `start_after` for the next page; None on the last page."
    )


class PartTarget(BaseModel):
    """Where and how the client sends one part: an HTTP request with the part's bytes as body."""

    model_config = ConfigDict(frozen=True)

    part_number: int = Field(ge=1, le=MAX_PART_NUMBER)
    url: str = Field(description="Send the part here (presigned on S3).")
    method: str = Field("PUT", description="HTTP method.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Headers the request must carry, exactly."
    )


class MultipartUpload(BaseModel):
    """A started direct upload. The client PUTs each part and keeps each answer's `ETag`."""

    model_config = ConfigDict(frozen=True)

    upload_id: str
    key: str
    part_size: int = Field(description="Size of every part but the last, which may be smaller.")
    parts: list[PartTarget]
    expires_at: datetime = Field(description="The part URLs stop working after this (UTC).")


class UploadedPart(BaseModel):
    """A part the store holds for an upload in progress."""

    model_config = ConfigDict(frozen=True)

    part_number: int = Field(ge=1, le=MAX_PART_NUMBER)
    etag: str = Field(description="MD5 of the part's bytes, hex, without quotes.")
    size: int = Field(ge=0)


class CompletedPart(BaseModel):
    """A part as the client declares it on completion: its number and the ETag it was given."""

    model_config = ConfigDict(frozen=True)

    part_number: int = Field(ge=1, le=MAX_PART_NUMBER)
    etag: str = Field(min_length=1, description="The part's ETag, quoted or not.")


class UploadSummary(BaseModel):
    """A multipart upload in progress (for resume and for sweeping abandoned ones)."""

    model_config = ConfigDict(frozen=True)

    key: str
    upload_id: str
    initiated: datetime | None = None
