"""The services the API uses, in one typed registry: where each runs is decided here.

:class:`ServiceRegistry` holds every service a route reaches, typed to what the API asks of it
(the ports below, and the services' own classes for the ones that always run in the API's
process). :func:`local_registry` builds all of them in this process; on Serve, the gateway
passes :class:`Elsewhere`, the ones that run in other deployments (handle-backed
implementations of the same ports), and those replace the local ones. Routes get them through
the ``Annotated`` dependencies of :mod:`rivergen.api.deps`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from fastapi import FastAPI

from rivergen.accounts.gatekeeper import Gatekeeper
from rivergen.accounts.principal import RequestContext
from rivergen.agents.dia.schemas import (
    AnalyzeRequest,
    DecisionPage,
    DecisionView,
    SimulateRequest,
    SimulationView,
)
from rivergen.agents.governance_agent.schemas import (
    Proposal,
    ProposalDecision,
    ProposalPage,
    ProposalState,
    ScanReport,
    ScanRequest,
)
from rivergen.agents.operations import OperationsAgent, RayClusterReader
from rivergen.agents.operations.schemas import (
    ClusterView,
    DeploymentsView,
    HealthSummary,
    JobRetry,
    WorkspaceHealth,
)
from rivergen.agents.prompt_studio import build_prompt_service
from rivergen.agents.prompt_studio.schemas import (
    ConversationDetail,
    ConversationPage,
    ExecuteRequest,
    ExecutionPage,
    ExecutionView,
    SavedPrompt,
    SavedPromptCreate,
    SavedPromptPage,
)
from rivergen.clients import PlatformClients
from rivergen.connectors.service import DataSourceService
from rivergen.core import BackendCore, BackendCorePort
from rivergen.datasets import DatasetService
from rivergen.domain import ComputeAdapters, DomainServices
from rivergen.jobs import JobService
from rivergen.notifications import NotificationService
from rivergen.ratelimit import RateLimiter
from rivergen.semantic.service import SemanticService
from rivergen.services.decisions.schemas import Guideline, GuidelineCreate, GuidelinePage
from rivergen.services.execution.save import JobResultSaver
from rivergen.services.governance import GovernanceService
from rivergen.services.ml.schemas import (
    ModelDetail,
    ModelPage,
    ModelVersionView,
    Prediction,
    TrainAccepted,
    TrainRequest,
)
from rivergen.services.monitoring.schemas import (
    MonitoringCheck,
    MonitoringPage,
    MonitoringReport,
)
from rivergen.settings import Settings
from rivergen.storage import StorageService


class ModelsPort(Protocol):
    """What the API asks of :class:`ModelService` (in process, or by handle on Serve)."""

    async def train(self, context: RequestContext, request: TrainRequest) -> TrainAccepted: ...

    async def list_models(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> ModelPage: ...

    async def get(self, context: RequestContext, model: UUID) -> ModelDetail: ...

    async def deploy(
        self, context: RequestContext, model: UUID, version: int | str | None
    ) -> ModelVersionView: ...


class ModelStudioPort(Protocol):
    """What the API asks of :class:`ModelStudio` (in process, or by handle on Serve)."""

    async def predict(
        self,
        context: RequestContext,
        model_id: UUID,
        rows: list[dict[str, Any]],
        *,
        version: int | str | None = None,
        explain: bool = False,
    ) -> list[Prediction]: ...


class MonitoringPort(Protocol):
    """What the API asks of :class:`MonitoringService` (in process, or by handle on Serve)."""

    async def history(
        self, context: RequestContext, model_id: UUID, limit: int = 20, cursor: str | None = None
    ) -> MonitoringPage: ...

    async def run(
        self, context: RequestContext, model_id: UUID, request: MonitoringCheck
    ) -> MonitoringReport: ...


class DecisionsPort(Protocol):
    """What the API asks of :class:`DecisionAgent` (in process, or by handle on Serve)."""

    async def create_guideline(
        self, context: RequestContext, body: GuidelineCreate
    ) -> Guideline: ...

    async def list_guidelines(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> GuidelinePage: ...

    async def delete_guideline(self, context: RequestContext, guideline: UUID) -> None: ...

    async def analyze(self, context: RequestContext, request: AnalyzeRequest) -> DecisionView: ...

    async def list_decisions(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> DecisionPage: ...

    async def get_decision(self, context: RequestContext, decision: UUID) -> DecisionView: ...

    async def simulate(
        self, context: RequestContext, request: SimulateRequest
    ) -> SimulationView: ...

    async def get_simulation(self, context: RequestContext, simulation: UUID) -> SimulationView: ...


class GovernanceAgentPort(Protocol):
    """What the API asks of :class:`GovernanceAgent` (in process, or by handle on Serve)."""

    async def scan(self, context: RequestContext, request: ScanRequest) -> ScanReport: ...

    async def list_proposals(
        self,
        context: RequestContext,
        state: ProposalState | None,
        dataset: UUID | None,
        limit: int,
        cursor: str | None,
    ) -> ProposalPage: ...

    async def approve(
        self, context: RequestContext, proposal: UUID, decision: ProposalDecision
    ) -> Proposal: ...

    async def reject(
        self, context: RequestContext, proposal: UUID, decision: ProposalDecision
    ) -> Proposal: ...


class OperationsPort(Protocol):
    """What the API asks of :class:`OperationsAgent` (in process, or by handle on Serve)."""

    async def cluster(self) -> ClusterView: ...

    async def deployments(self) -> DeploymentsView: ...

    async def retry_job(self, context: RequestContext, job: UUID) -> JobRetry: ...

    async def health(self, context: RequestContext) -> HealthSummary: ...

    async def workspace_health(self, context: RequestContext) -> WorkspaceHealth: ...


class PromptStudioPort(Protocol):
    """What the API asks of :class:`PromptService` (in process, or by handle on Serve)."""

    async def execute(self, context: RequestContext, request: ExecuteRequest) -> ExecutionView: ...

    async def rerun(self, context: RequestContext, execution: UUID) -> ExecutionView: ...

    async def get(self, context: RequestContext, execution: UUID) -> ExecutionView: ...

    async def list_executions(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> ExecutionPage: ...

    async def list_conversations(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> ConversationPage: ...

    async def get_conversation(
        self, context: RequestContext, conversation: UUID
    ) -> ConversationDetail: ...

    async def confirm(self, context: RequestContext, execution: UUID) -> ExecutionView: ...

    async def save(self, context: RequestContext, request: SavedPromptCreate) -> SavedPrompt: ...

    async def list_saved(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> SavedPromptPage: ...

    async def delete_saved(self, context: RequestContext, saved: UUID) -> None: ...


@dataclass
class Elsewhere:
    """The services that run in other deployments (on Serve, by handle); None: in this
    process."""

    core: BackendCorePort | None = None
    prompts: PromptStudioPort | None = None
    models: ModelsPort | None = None
    model_studio: ModelStudioPort | None = None
    monitoring: MonitoringPort | None = None
    decisions: DecisionsPort | None = None
    governance_agent: GovernanceAgentPort | None = None
    operations: OperationsPort | None = None


@dataclass
class ServiceRegistry:
    """Every service the API's routes use, one field each."""

    clients: PlatformClients
    gatekeeper: Gatekeeper
    rate_limiter: RateLimiter
    core: BackendCorePort
    governance: GovernanceService
    storage: StorageService
    data_sources: DataSourceService
    datasets: DatasetService
    notifications: NotificationService
    jobs: JobService
    semantic: SemanticService
    prompts: PromptStudioPort
    models: ModelsPort
    model_studio: ModelStudioPort
    monitoring: MonitoringPort
    decisions: DecisionsPort
    governance_agent: GovernanceAgentPort
    operations: OperationsPort


def build_registry(
    clients: PlatformClients,
    settings: Settings,
    gatekeeper: Gatekeeper,
    compute: ComputeAdapters,
    elsewhere: Elsewhere | None = None,
) -> ServiceRegistry:
    """Every service over ``clients``: those of ``elsewhere`` as given, the others built here
    (the domain services on ``compute``)."""
    away = elsewhere or Elsewhere()
    domain = DomainServices.build(clients, settings, compute=compute)
    return ServiceRegistry(
        clients=clients,
        gatekeeper=gatekeeper,
        rate_limiter=RateLimiter(clients.redis_app),
        core=away.core or BackendCore(clients),
        governance=domain.governance,
        storage=domain.storage,
        data_sources=domain.data_sources,
        datasets=domain.datasets,
        notifications=domain.notifications,
        jobs=domain.jobs,
        semantic=SemanticService(clients.db, domain.governance),
        prompts=away.prompts or prompt_studio(clients, settings, domain, compute),
        models=away.models or domain.models,
        model_studio=away.model_studio or domain.model_studio,
        monitoring=away.monitoring or domain.monitoring,
        decisions=away.decisions or domain.decisions,
        governance_agent=away.governance_agent or domain.governance_agent,
        operations=away.operations
        or OperationsAgent(
            clients, domain.jobs, RayClusterReader(), settings.gateway.readiness_timeout_s
        ),
    )


def prompt_studio(
    clients: PlatformClients, settings: Settings, domain: DomainServices, compute: ComputeAdapters
) -> PromptStudioPort:
    """Prompt Studio and the capability services it uses, all in this process."""
    sql = compute.sql(domain.datasets, domain.governance, settings.prompts.max_seconds)
    return build_prompt_service(
        clients.db,
        settings.prompts,
        domain.datasets,
        domain.jobs,
        sql=sql,
        saver=JobResultSaver(domain.jobs, settings.prompts.max_seconds),
        governance=domain.governance,
    )


def registry_of(app: FastAPI) -> ServiceRegistry:
    """The services of a started app (its lifespan builds them)."""
    registry: ServiceRegistry = app.state.registry
    return registry


def started_registry(app: FastAPI) -> ServiceRegistry | None:
    """The services of ``app``, or None before its lifespan built them."""
    registry: ServiceRegistry | None = getattr(app.state, "registry", None)
    return registry


def use_registry(app: FastAPI, registry: ServiceRegistry | None) -> None:
    app.state.registry = registry
