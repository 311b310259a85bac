"""Routes of the Operations agent. For platform operators alone (no workspace role reaches
them): the cluster, the Serve deployments, job retry in any workspace and a health summary
with the dependencies' error detail. For a workspace's admins: that workspace's health."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, status

from rivergen.agents.operations import (
    ClusterView,
    DeploymentsView,
    HealthSummary,
    JobRetry,
    WorkspaceHealth,
)
from rivergen.api.accounts import ERRORS
from rivergen.api.deps import OperationsDep
from rivergen.api.security import Context, authorize
from rivergen.errors import BadRequest

router = APIRouter(
    prefix="/api/v1/operations",
    dependencies=[Depends(authorize)],
    responses=ERRORS,
    tags=["operations"],
)
# What a workspace's admins see of operations: their own workspace only.
workspace_router = APIRouter(
    prefix="/api/v1/workspaces",
    dependencies=[Depends(authorize)],
    responses=ERRORS,
    tags=["operations"],
)


Agent = OperationsDep


@router.get("/cluster")
async def cluster(agent: Agent) -> ClusterView:
    """Nodes, resources (total and available), actors and tasks by state, from Ray's state
    API (read now; `notes` say what could not be read)."""
    return await agent.cluster()


@router.get("/deployments")
async def deployments(agent: Agent) -> DeploymentsView:
    """Serve's applications and deployments: status, target and running replicas and the
    autoscaling bounds, read from the Serve controller at request time (never stored).
    Without Serve: `serve_running: false`, no applications, and a `note`."""
    return await agent.deployments()


@router.post("/jobs/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_job(job_id: UUID, context: Context, agent: Agent) -> JobRetry:
    """Queue a failed or cancelled job of the workspace named by `X-Workspace-ID` again (a new
    job, same kind, params and name); 409 `job_not_retryable` otherwise."""
    if context.workspace_id is None:
        raise BadRequest("no workspace: send X-Workspace-ID", code="workspace_required")
    return await agent.retry_job(context, job_id)


@router.get("/health")
async def health(context: Context, agent: Agent) -> HealthSummary:
    """Dependencies, cluster nodes and CPUs, unhealthy deployments and this workspace's jobs,
    with every problem found listed."""
    return await agent.health(context)


@workspace_router.get("/{workspace_id}/health")
async def workspace_health(workspace_id: UUID, context: Context, agent: Agent) -> WorkspaceHealth:
    """For the workspace's admins: whether each service the workspace uses answers (no error
    detail), its jobs by state, its failures of the last 24 hours and its latest jobs that ran
    more than once or may be retried. Nothing about nodes, Serve or other workspaces (those are
    the operators', at `/api/v1/operations/health`)."""
    return await agent.workspace_health(context)
