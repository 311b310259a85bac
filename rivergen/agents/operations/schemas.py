"""What the Operations agent shows: the cluster, the Serve deployments, a health summary."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from rivergen.health import Readiness
from rivergen.jobs.schemas import JobAccepted, JobState


class NodeView(BaseModel):
    node_id: str
    address: str
    alive: bool
    is_head: bool | None = Field(None, description="None when Ray's state API is not running.")
    resources_total: dict[str, float]


class ResourcesView(BaseModel):
    total: dict[str, float]
    available: dict[str, float]


class StateSummary(BaseModel):
    """Actors (or tasks) of the cluster: how many, by state and by class (or function)."""

    total: int
    by_state: dict[str, int]
    by_name: dict[str, dict[str, int]] = Field(
        description="Class (actors) or function (tasks) -> state -> count."
    )


class ClusterView(BaseModel):
    nodes: list[NodeView]
    resources: ResourcesView
    actors: StateSummary | None = Field(
        None, description="None when Ray's state API (the dashboard) is not running."
    )
    tasks: StateSummary | None = Field(
        None, description="None when Ray's state API (the dashboard) is not running."
    )
    notes: list[str] = Field(default_factory=list)
    read_at: datetime


class DeploymentView(BaseModel):
    application: str
    name: str
    status: str = Field(description="Serve's: HEALTHY, UPDATING, UPSCALING, UNHEALTHY, ...")
    message: str = ""
    target_replicas: int = Field(description="What Serve (its autoscaler) wants now.")
    running_replicas: int = Field(description="Replicas in state RUNNING.")
    replica_states: dict[str, int] = Field(description="Replicas by state.")
    min_replicas: int | None = Field(None, description="Autoscaling bounds, if it autoscales.")
    max_replicas: int | None = None


class ApplicationView(BaseModel):
    name: str
    status: str
    message: str = ""
    route_prefix: str | None = None
    deployments: list[DeploymentView]


class DeploymentsView(BaseModel):
    """Read from the Serve controller at request time; nothing of it is stored."""

    serve_running: bool
    applications: list[ApplicationView]
    note: str | None = None
    read_at: datetime


class JobRetry(BaseModel):
    retried_from: UUID = Field(description="The failed or cancelled job.")
    job: JobAccepted = Field(description="The job queued again with the same kind and params.")


class ClusterHealth(BaseModel):
    nodes_alive: int
    nodes_dead: int
    cpu_total: float
    cpu_available: float


class ServeHealth(BaseModel):
    running: bool
    applications: int
    unhealthy: list[str] = Field(description="`application/deployment` not HEALTHY.")


class HealthSummary(BaseModel):
    status: Literal["ok", "degraded"]
    problems: list[str]
    dependencies: Readiness
    cluster: ClusterHealth
    serve: ServeHealth
    jobs: dict[str, int] = Field(description="This workspace's jobs by state.")
    failed_jobs_24h: int


class ServiceStatus(BaseModel):
    """A platform service as a tenant sees it: up or not, never why (that is the operators')."""

    ok: bool
    latency_ms: float | None = Field(None, description="Round trip of the check.")


class JobAttempts(BaseModel):
    id: UUID
    kind: str
    name: str | None
    state: JobState
    attempts: int = Field(description="Runs so far: more than one when the supervisor retried it.")
    max_attempts: int
    error_code: str | None
    created_at: datetime
    finished_at: datetime | None
    retryable: bool = Field(
        description="Failed or cancelled: `POST /api/v1/jobs/{id}/retry` queues it again."
    )


class WorkspaceHealth(BaseModel):
    """What a workspace's admins see of the platform: the services the workspace uses and its
    own jobs. Nothing about the cluster's nodes, Serve, or any other workspace."""

    workspace_id: UUID
    status: Literal["ok", "degraded"]
    problems: list[str]
    services: dict[str, ServiceStatus] = Field(
        description="postgres (data), redis_app (sessions, caches), redis_socket (live "
        "notifications), events, object_store (files), ray (compute)."
    )
    jobs: dict[str, int] = Field(description="This workspace's jobs by state.")
    failed_jobs_24h: int
    retried_jobs: list[JobAttempts] = Field(
        description="The workspace's latest jobs (up to 20) that ran more than once or ended "
        "failed or cancelled, newest first."
    )
