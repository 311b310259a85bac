"""Routes of data sources (connectors): register, list, get, discover the schema, delete."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Response, status

from rivergen.api.accounts import ERRORS
from rivergen.api.deps import DataSourcesDep, PageCursor, PageLimit
from rivergen.api.security import Context, authorize
from rivergen.connectors.schemas import (
    DataSourceCreate,
    DataSourcePage,
    DataSourceView,
    DiscoveredSchema,
)

router = APIRouter(
    prefix="/api/v1/data-sources",
    dependencies=[Depends(authorize)],
    responses={**ERRORS, 413: ERRORS[400]},
    tags=["data sources"],
)


Sources = DataSourcesDep


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_data_source(
    body: DataSourceCreate, context: Context, sources: Sources
) -> DataSourceView:
    """Register a source (`kind`: postgres, s3, http_csv). Secrets are stored and never
    returned."""
    return await sources.create(context, body)


@router.get("")
async def list_data_sources(
    context: Context,
    sources: Sources,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> DataSourcePage:
    """Newest first; follow `next_cursor`."""
    return await sources.list(context, limit, cursor)


@router.get("/{source_id}")
async def get_data_source(source_id: UUID, context: Context, sources: Sources) -> DataSourceView:
    return await sources.get(context, source_id)


@router.delete("/{source_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_data_source(source_id: UUID, context: Context, sources: Sources) -> Response:
    await sources.delete(context, source_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{source_id}/discover-schema")
async def discover_data_source_schema(
    source_id: UUID, context: Context, sources: Sources
) -> DiscoveredSchema:
    """Connect to the source now and read its columns (stored on the source)."""
    return await sources.discover(context, source_id)
