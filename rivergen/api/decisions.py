"""Routes of Decision Intelligence (DIA): analyze a case, simulate over a dataset, the kept
decisions, and the workspace's guideline sets.

Access: analyzing writes a decision record and emits `decision.made`, and simulating queues
work: both need an editor. Reading decisions and guidelines is for viewers; guideline sets
carry the hard limits every decision obeys, so changing them is for admins (as policies are).
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Response, status

from rivergen.agents.dia import (
    AnalyzeRequest,
    DecisionPage,
    DecisionView,
    SimulateRequest,
    SimulationView,
)
from rivergen.api.accounts import ERRORS
from rivergen.api.deps import DecisionsDep, PageCursor, PageLimit
from rivergen.api.security import Context, authorize
from rivergen.services.decisions import Guideline, GuidelineCreate, GuidelinePage

router = APIRouter(
    prefix="/api/v1/decisions",
    dependencies=[Depends(authorize)],
    responses=ERRORS,
    tags=["decisions"],
)


Decisions = DecisionsDep


@router.post("/analyze")
async def analyze(body: AnalyzeRequest, context: Context, decisions: Decisions) -> DecisionView:
    """Decide on one case (`features`, or a dataset row by `row_index` or `row_key`): the
    model's score (explained by its top feature contributions), refined by the guideline set
    (default: the workspace's newest), overruled by its hard limits. When the model fails, the
    `fallback_model_id` scores, then the constant baseline (`scored_by` says which). The
    decision is kept and `decision.made` is emitted."""
    return await decisions.analyze(context, body)


@router.post("/simulate", status_code=status.HTTP_202_ACCEPTED)
async def simulate(body: SimulateRequest, context: Context, decisions: Decisions) -> SimulationView:
    """Queue a simulation over every row of a dataset (as the caller may see it); follow
    `GET /api/v1/decisions/simulations/{id}` for its outcome counts."""
    return await decisions.simulate(context, body)


@router.get("/simulations/{simulation_id}")
async def get_simulation(
    simulation_id: UUID, context: Context, decisions: Decisions
) -> SimulationView:
    return await decisions.get_simulation(context, simulation_id)


@router.get("/guidelines")
async def list_guidelines(
    context: Context, decisions: Decisions, limit: PageLimit = 50, cursor: PageCursor = None
) -> GuidelinePage:
    """Newest first (the newest is the default set); follow `next_cursor`."""
    return await decisions.list_guidelines(context, limit, cursor)


@router.post("/guidelines", status_code=status.HTTP_201_CREATED)
async def create_guideline(
    body: GuidelineCreate, context: Context, decisions: Decisions
) -> Guideline:
    """A guideline set: `thresholds` (outcome from a minimum score), `rules` that adjust the
    score or set the outcome when a feature condition holds, and hard `limits` (a condition
    and an outcome, default `decline`) that always win over the score."""
    return await decisions.create_guideline(context, body)


@router.delete("/guidelines/{guideline_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_guideline(guideline_id: UUID, context: Context, decisions: Decisions) -> Response:
    await decisions.delete_guideline(context, guideline_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("")
async def list_decisions(
    context: Context, decisions: Decisions, limit: PageLimit = 50, cursor: PageCursor = None
) -> DecisionPage:
    """Every decision kept, newest first; follow `next_cursor`."""
    return await decisions.list_decisions(context, limit, cursor)


@router.get("/{decision_id}")
async def get_decision(decision_id: UUID, context: Context, decisions: Decisions) -> DecisionView:
    return await decisions.get_decision(context, decision_id)
