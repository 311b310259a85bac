"""The Operations agent (OSA): the running cluster, the Serve deployments with their replica
counts (read from Serve at request time), job retry and a health summary, for operators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from rivergen.accounts.principal import RequestContext
from rivergen.agents.operations.cluster import ClusterReader
from rivergen.agents.operations.schemas import (
    ClusterHealth,
    ClusterView,
    DeploymentsView,
    HealthSummary,
    JobAttempts,
    JobRetry,
    ServeHealth,
    ServiceStatus,
    WorkspaceHealth,
)
from rivergen.clients import PlatformClients
from rivergen.errors import BadRequest, Conflict, RiverGenError
from rivergen.health import check_readiness
from rivergen.jobs import JobService, JobState
from rivergen.jobs.schemas import JobCreate

RETRYABLE: tuple[JobState, ...] = (JobState.FAILED, JobState.CANCELLED)
RETRIED_SHOWN = 20


class OperationsAgent:
    def __init__(
        self,
        clients: PlatformClients,
        jobs: JobService,
        reader: ClusterReader,
        readiness_timeout_s: float = 2.0,
    ) -> None:
        self._clients = clients
        self._jobs = jobs
        self._reader = reader
        self._timeout = readiness_timeout_s

    async def cluster(self) -> ClusterView:
        """Nodes, resources (total and available), and actors and tasks by state."""
        return await self._reader.cluster()

    async def deployments(self) -> DeploymentsView:
        """Serve's applications and deployments with their status and target and running
        replica counts, as the Serve controller reports them now; without Serve, none (and a
        note saying so)."""
        return await self._reader.deployments()

    async def retry_job(self, context: RequestContext, job: UUID) -> JobRetry:
        """Queue a failed or cancelled job again: a new job of the same kind, params and name,
        submitted through the job service (checked, governed and counted against the quotas
        like any submission). 409 ``job_not_retryable`` for a job in another state."""
        original = await self._jobs.get(context, job)
        if original.state not in RETRYABLE:
            raise Conflict(
                f"job {job} is {original.state.value}: only failed or cancelled jobs are retried",
                code="job_not_retryable",
                details={"state": original.state.value},
            )
        accepted = await self._jobs.submit(
            context, JobCreate(kind=original.kind, params=original.params, name=original.name)
        )
        return JobRetry(retried_from=job, job=accepted)

    async def health(self, context: RequestContext) -> HealthSummary:
        """Every dependency's readiness, the cluster's nodes and CPUs, Serve's unhealthy
        deployments and the workspace's jobs, with the problems found in one list."""
        readiness = await check_readiness(self._clients, self._timeout)
        problems = [f"{name}: {s.error}" for name, s in readiness.dependencies.items() if not s.ok]
        cluster_health, serve_health = await self._cluster_health(problems)
        jobs, failed = await self._job_counts(context)
        return HealthSummary(
            status="ok" if not problems else "degraded",
            problems=problems,
            dependencies=readiness,
            cluster=cluster_health,
            serve=serve_health,
            jobs=jobs,
            failed_jobs_24h=failed,
        )

    async def workspace_health(self, context: RequestContext) -> WorkspaceHealth:
        """For a workspace's admins: whether each service the workspace uses answers (no error
        detail), its jobs by state and its jobs that were retried or may be; nothing about
        nodes, Serve or other workspaces."""
        if context.workspace_id is None:
            raise BadRequest("no workspace: send X-Workspace-ID", code="workspace_required")
        readiness = await check_readiness(self._clients, self._timeout)
        services = {
            name: ServiceStatus(ok=s.ok, latency_ms=s.latency_ms)
            for name, s in readiness.dependencies.items()
        }
        problems = [f"{name} is unavailable" for name, s in services.items() if not s.ok]
        jobs, failed = await self._job_counts(context)
        if failed:
            problems.append(f"{failed} job(s) failed in the last 24 hours")
        return WorkspaceHealth(
            workspace_id=context.workspace_id,
            status="ok" if not problems else "degraded",
            problems=problems,
            services=services,
            jobs=jobs,
            failed_jobs_24h=failed,
            retried_jobs=await self._retried_jobs(context.workspace_id),
        )

    async def _retried_jobs(self, workspace: UUID) -> list[JobAttempts]:
        async with self._clients.db.transaction(str(workspace)) as conn:
            rows = await conn.fetch(
                "SELECT id, kind, name, state, attempts, max_attempts, error->>'code' AS code,"
                " created_at, finished_at FROM jobs"
                " WHERE attempts > 1 OR state IN ('failed', 'cancelled')"
                " ORDER BY created_at DESC, id DESC LIMIT $1",
                RETRIED_SHOWN,
            )
        return [
            JobAttempts(
                id=r["id"],
                kind=r["kind"],
                name=r["name"],
                state=JobState(r["state"]),
                attempts=r["attempts"],
                max_attempts=r["max_attempts"],
                error_code=r["code"],
                created_at=r["created_at"],
                finished_at=r["finished_at"],
                retryable=JobState(r["state"]) in RETRYABLE,
            )
            for r in rows
        ]

    async def _cluster_health(self, problems: list[str]) -> tuple[ClusterHealth, ServeHealth]:
        try:
            cluster = await self._reader.cluster()
            deployments = await self._reader.deployments()
        except RiverGenError as exc:
            problems.append(f"cluster: {exc.message}")
            return ClusterHealth(
                nodes_alive=0, nodes_dead=0, cpu_total=0, cpu_available=0
            ), ServeHealth(running=False, applications=0, unhealthy=[])
        alive = sum(1 for n in cluster.nodes if n.alive)
        dead = len(cluster.nodes) - alive
        if dead:
            problems.append(f"cluster: {dead} node(s) dead")
        unhealthy = [
            f"{d.application}/{d.name}"
            for app in deployments.applications
            for d in app.deployments
            if d.status != "HEALTHY"
        ]
        problems.extend(f"serve: {name} is not healthy" for name in unhealthy)
        return (
            ClusterHealth(
                nodes_alive=alive,
                nodes_dead=dead,
                cpu_total=cluster.resources.total.get("CPU", 0.0),
                cpu_available=cluster.resources.available.get("CPU", 0.0),
            ),
            ServeHealth(
                running=deployments.serve_running,
                applications=len(deployments.applications),
                unhealthy=unhealthy,
            ),
        )

    async def _job_counts(self, context: RequestContext) -> tuple[dict[str, int], int]:
        if context.workspace_id is None:
            return {}, 0
        since = datetime.now(UTC) - timedelta(hours=24)
        async with self._clients.db.transaction(str(context.workspace_id)) as conn:
            rows = await conn.fetch("SELECT state, count(*) AS n FROM jobs GROUP BY state")
            failed = await conn.fetchval(
                "SELECT count(*) FROM jobs WHERE state = 'failed' AND finished_at >= $1", since
            )
        return {r["state"]: r["n"] for r in rows}, int(failed)
