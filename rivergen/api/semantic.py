"""Routes of the semantic layer: the current version, the automatic draft, a person's edit,
the confirmation and the history."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from rivergen.api.accounts import ERRORS
from rivergen.api.deps import PageCursor, PageLimit, SemanticDep
from rivergen.api.security import Context, authorize
from rivergen.semantic.schemas import (
    ConfirmRequest,
    SemanticLayerUpdate,
    SemanticLayerVersion,
    SemanticLayerVersionPage,
)

router = APIRouter(
    prefix="/api/v1/semantic-layer",
    dependencies=[Depends(authorize)],
    responses=ERRORS,
    tags=["semantic layer"],
)


Semantic = SemanticDep


@router.get("")
async def get_semantic_layer(context: Context, semantic: Semantic) -> SemanticLayerVersion:
    """The current (newest) version, draft or confirmed; `in_use` says whether the prompt
    providers use it (they use the newest confirmed one). 404 `semantic_layer_not_found`
    until a draft or an edit is saved."""
    return await semantic.current(context)


@router.put("")
async def put_semantic_layer(
    body: SemanticLayerUpdate, context: Context, semantic: Semantic
) -> SemanticLayerVersion:
    """Save the whole document as a new draft version (the history is kept). Every dataset and
    column it names must exist; every measure, relationship and verified query is admitted and
    bound on the engine over the datasets' schemas: 422 `semantic_invalid` with the engine's
    message and `details.where` naming the entry otherwise. 409 `semantic_layer_conflict` when
    `based_on` is given and another version was saved since."""
    return await semantic.update(context, body)


@router.post("/draft")
async def draft_semantic_layer(context: Context, semantic: Semantic) -> SemanticLayerVersion:
    """Build the automatic draft from the current catalog and the datasets' kept profiles
    (names split from camelCase and snake_case, synonyms, column roles, a measure per numeric
    column, relationships from key names) and save it as a new draft version. Over an
    existing layer, what people wrote stays and only new datasets and columns are drafted."""
    return await semantic.draft(context)


@router.post("/confirm")
async def confirm_semantic_layer(
    context: Context, semantic: Semantic, body: ConfirmRequest | None = None
) -> SemanticLayerVersion:
    """Confirm the current version: from now on both prompt providers use it. Confirming a
    confirmed version changes nothing. 404 `semantic_layer_not_found`; 409
    `semantic_layer_conflict` if `version` is given and is not the current one."""
    return await semantic.confirm(context, body or ConfirmRequest())


@router.get("/versions")
async def list_semantic_layer_versions(
    context: Context, semantic: Semantic, limit: PageLimit = 20, cursor: PageCursor = None
) -> SemanticLayerVersionPage:
    """Every saved version with its document, newest first; follow `next_cursor`."""
    return await semantic.versions(context, limit, cursor)
