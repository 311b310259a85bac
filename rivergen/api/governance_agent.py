"""Routes of the Governance agent: sensitive-data scans of datasets and the masking policies
they propose, approved or rejected by admins."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from rivergen.agents.governance_agent import (
    Proposal,
    ProposalDecision,
    ProposalPage,
    ScanReport,
    ScanRequest,
)
from rivergen.agents.governance_agent.schemas import ProposalState
from rivergen.api.accounts import ERRORS
from rivergen.api.deps import GovernanceAgentDep, PageCursor, PageLimit
from rivergen.api.security import Context, authorize

router = APIRouter(
    prefix="/api/v1/governance",
    dependencies=[Depends(authorize)],
    responses=ERRORS,
    tags=["governance agent"],
)


Agent = GovernanceAgentDep


@router.post("/scan")
async def scan_dataset(body: ScanRequest, context: Context, agent: Agent) -> ScanReport:
    """Detect sensitive columns (emails, phones, card numbers, IBANs, national ids, street
    addresses) in a seeded sample of the dataset's current version; tag them on the dataset's
    columns (`sensitive`, `pii:<kind>`), propose a masking policy for each column editors or
    viewers see unmasked, and raise a `governance.alert` when there are any. No value is
    returned or stored, only the kinds and shares."""
    return await agent.scan(context, body)


@router.get("/proposals")
async def list_proposals(
    context: Context,
    agent: Agent,
    state: Annotated[ProposalState | None, Query(description="Only these.")] = None,
    dataset_id: Annotated[UUID | None, Query(description="Only this dataset's.")] = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> ProposalPage:
    """Newest first; follow `next_cursor`."""
    return await agent.list_proposals(context, state, dataset_id, limit, cursor)


@router.post("/proposals/{proposal_id}/approve")
async def approve_proposal(
    proposal_id: UUID, context: Context, agent: Agent, body: ProposalDecision | None = None
) -> Proposal:
    """Create the proposed masking policy (it applies at once) and mark the proposal approved;
    409 `proposal_decided` if it was approved or rejected already."""
    return await agent.approve(context, proposal_id, body or ProposalDecision())


@router.post("/proposals/{proposal_id}/reject")
async def reject_proposal(
    proposal_id: UUID, context: Context, agent: Agent, body: ProposalDecision | None = None
) -> Proposal:
    """Mark the proposal rejected (no policy); 409 `proposal_decided` if decided already."""
    return await agent.reject(context, proposal_id, body or ProposalDecision())
