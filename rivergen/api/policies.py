"""Routes of Governance: the workspace's policies and their evaluation."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status

from rivergen.api.accounts import ERRORS
from rivergen.api.deps import GovernanceDep, PageCursor, PageLimit
from rivergen.api.security import Context, authorize
from rivergen.services.governance import (
    Governed,
    Policy,
    PolicyCreate,
    PolicyEvaluate,
    PolicyPage,
    PolicyUpdate,
)

router = APIRouter(
    prefix="/api/v1", dependencies=[Depends(authorize)], responses=ERRORS, tags=["governance"]
)


Governance = GovernanceDep


@router.get("/policies")
async def list_policies(
    context: Context,
    governance: Governance,
    dataset_id: Annotated[UUID | None, Query(description="Only this dataset's.")] = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> PolicyPage:
    """Newest first; follow `next_cursor`."""
    return await governance.list_policies(context, dataset_id, limit, cursor)


@router.post("/policies", status_code=status.HTTP_201_CREATED)
async def create_policy(body: PolicyCreate, context: Context, governance: Governance) -> Policy:
    """A policy of one dataset (or, without `dataset_id`, of every dataset) for some roles
    (default: all): a `row_filter` (rows a caller may see), a `mask` (`redact`, `hash`,
    `partial`), a `query_limit`, or an `access` deny (the dataset or some columns). It applies
    at once to every path that returns data. Its columns must exist in the dataset's current
    version (422 `column_not_found`)."""
    return await governance.create(context, body)


@router.post("/policies/evaluate")
async def evaluate_policies(
    body: PolicyEvaluate, context: Context, governance: Governance
) -> Governed:
    """What the policies make of a dataset for a role (default: the caller's): row filters,
    masked columns, denied columns, limits, and the policies that applied, by priority."""
    return await governance.evaluate(context, body)


@router.get("/policies/{policy_id}")
async def get_policy(policy_id: UUID, context: Context, governance: Governance) -> Policy:
    return await governance.get(context, policy_id)


@router.patch("/policies/{policy_id}")
async def update_policy(
    policy_id: UUID, body: PolicyUpdate, context: Context, governance: Governance
) -> Policy:
    """Change some fields (the result is checked as a whole policy)."""
    return await governance.update(context, policy_id, body)


@router.delete("/policies/{policy_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_policy(policy_id: UUID, context: Context, governance: Governance) -> Response:
    await governance.delete(context, policy_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
