"""Routes of Schema & Metadata: datasets, their versions, previews and the catalog."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import FileResponse

from rivergen.api.accounts import ERRORS
from rivergen.api.deps import ClientsDep, DatasetsDep, PageCursor, PageLimit
from rivergen.api.security import Context, authorize
from rivergen.datasets.schemas import (
    DatasetCreate,
    DatasetDownload,
    DatasetPage,
    DatasetSource,
    DatasetUpdate,
    DatasetView,
    Preview,
    ProfileView,
    QualityCheck,
    QualityReport,
    SearchResults,
)
from rivergen.errors import NotFound
from rivergen.objectstore import LocalObjectStore

router = APIRouter(
    prefix="/api/v1", dependencies=[Depends(authorize)], responses=ERRORS, tags=["datasets"]
)


Datasets = DatasetsDep
VersionQuery = Annotated[int | None, Query(ge=1, description="Default: the current version.")]


@router.post("/datasets", status_code=status.HTTP_201_CREATED)
async def create_dataset(body: DatasetCreate, context: Context, datasets: Datasets) -> DatasetView:
    """A dataset from an uploaded file (CSV, JSON Lines, Parquet, Arrow IPC) or a data source,
    stored as Parquet. Malformed CSV rows refuse the file with their line numbers, unless
    `options.on_invalid_rows` is `skip` (then they are listed with the version)."""
    return await datasets.create(context, body)


@router.get("/datasets")
async def list_datasets(
    context: Context,
    datasets: Datasets,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> DatasetPage:
    """Newest first; follow `next_cursor`."""
    return await datasets.list_datasets(context, limit, cursor)


@router.get("/datasets/{dataset_id}")
async def get_dataset(dataset_id: UUID, context: Context, datasets: Datasets) -> DatasetView:
    """Schema (with column descriptions and tags), versions and lineage."""
    return await datasets.get(context, dataset_id)


@router.patch("/datasets/{dataset_id}")
async def update_dataset(
    dataset_id: UUID, body: DatasetUpdate, context: Context, datasets: Datasets
) -> DatasetView:
    """Describe and tag the dataset and its columns (what the catalog search covers)."""
    return await datasets.update(context, dataset_id, body)


@router.delete("/datasets/{dataset_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_dataset(dataset_id: UUID, context: Context, datasets: Datasets) -> Response:
    await datasets.delete(context, dataset_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/datasets/{dataset_id}/versions", status_code=status.HTTP_201_CREATED)
async def add_version(
    dataset_id: UUID, body: DatasetSource, context: Context, datasets: Datasets
) -> DatasetView:
    """A new version from another file or a fresh read of a data source."""
    return await datasets.add_version(context, dataset_id, body)


@router.get("/datasets/{dataset_id}/preview")
async def preview_dataset(
    dataset_id: UUID,
    context: Context,
    datasets: Datasets,
    version: VersionQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Preview:
    """The first rows of a version, as JSON (dates ISO 8601, decimals as strings)."""
    return await datasets.preview(context, dataset_id, version, limit)


VersionPath = Annotated[int, Path(ge=1, description="The version number.")]


@router.get("/datasets/{dataset_id}/versions/{version}/download")
async def download_version(
    dataset_id: UUID, version: VersionPath, context: Context, datasets: Datasets, request: Request
) -> DatasetDownload:
    """Where to GET the version as Parquet: a presigned URL valid for 1 h on S3, or this
    platform's content route (send the same credentials) for the embedded store, or when
    policies change what the caller sees (the route then serves the governed data)."""
    base = str(request.base_url).rstrip("/")
    url = f"{base}/api/v1/datasets/{dataset_id}/versions/{version}/content"
    return await datasets.download(context, dataset_id, version, url)


@router.get(
    "/datasets/{dataset_id}/versions/{version}/content",
    response_class=Response,
    responses={200: {"content": {"application/vnd.apache.parquet": {}}}},
)
async def version_content(
    dataset_id: UUID,
    version: VersionPath,
    context: Context,
    datasets: Datasets,
    clients: ClientsDep,
) -> Response:
    """The version's Parquet object, streamed from the embedded store (on S3 the download URL
    is presigned and this route answers 404). When policies change what the caller sees
    (filtered rows, masked or denied columns), the governed Parquet, on either store."""
    key, governed = await datasets.governed_content(context, dataset_id, version)
    if governed is not None:
        return Response(governed, media_type="application/vnd.apache.parquet")
    objects = clients.objects
    if not isinstance(objects, LocalObjectStore):
        raise NotFound(
            "versions download straight from object storage: GET .../download for the URL",
            code="dataset_version_not_found",
        )
    return FileResponse(objects.file_of(key), media_type="application/vnd.apache.parquet")


@router.post("/datasets/{dataset_id}/profile")
async def profile_dataset(
    dataset_id: UUID, context: Context, datasets: Datasets, version: VersionQuery = None
) -> ProfileView:
    """Profile every column (counts, nulls, distinct, min, max, mean, std, quantiles, top
    values, histogram) as Ray tasks over blocks of columns; kept, and `dataset.profiled`
    emitted."""
    return await datasets.profile(context, dataset_id, version)


@router.get("/datasets/{dataset_id}/profile")
async def get_profile(
    dataset_id: UUID, context: Context, datasets: Datasets, version: VersionQuery = None
) -> ProfileView:
    """The newest kept profile (404 `profile_not_found` before the first)."""
    return await datasets.get_profile(context, dataset_id, version)


@router.post("/datasets/{dataset_id}/quality")
async def check_quality(
    dataset_id: UUID, body: QualityCheck, context: Context, datasets: Datasets
) -> QualityReport:
    """Check rules (`not_null`, `unique`, `range`, `regex`, `allowed_values`, `freshness`)
    over a version: pass or fail each, with samples of failing rows."""
    return await datasets.check_quality(context, dataset_id, body)


@router.get("/catalog/search")
async def search_catalog(
    context: Context,
    datasets: Datasets,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResults:
    """Datasets of this workspace whose names, tags, columns or descriptions match, best
    first."""
    return await datasets.search(context, q, limit)
