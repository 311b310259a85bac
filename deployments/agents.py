"""The agents on Serve. Prompt Studio (PSA): one deployment that keeps the state of each
execution (in Postgres) and reaches the capability services by handle; the gateway reaches it,
and every other deployment here, by handle (``deployments/gateway.py``)."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from ray.serve.deployment import Application
from ray.serve.handle import DeploymentHandle

from compute.adapters import ray_adapters
from deployments.handles import ByHandle
from deployments.scaling import LIGHT_NUM_CPUS, autoscaled
from deployments.services import (
    DATA_QUALITY,
    EXECUTION,
    GOVERNANCE,
    LANGUAGE,
    PLANNING,
    SCHEMA_METADATA,
    capability_services,
    datasets_by_handle,
)
from rivergen.accounts.principal import RequestContext
from rivergen.agents.governance_agent import GovernanceAgent
from rivergen.agents.operations import OperationsAgent, RayClusterReader
from rivergen.agents.prompt_studio import PromptService, build_prompt_service
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
from rivergen.domain import DomainServices
from rivergen.settings import GatewaySettings, load_settings

PROMPT_STUDIO = "prompt-studio"


class PromptStudio:
    """:class:`rivergen.agents.prompt_studio.PromptService` with its tools and services by
    handle."""

    async def __init__(  # type: ignore[misc]  # Serve awaits it
        self,
        planning: DeploymentHandle[Any],
        governance: DeploymentHandle[Any],
        language: DeploymentHandle[Any],
        execution: DeploymentHandle[Any],
        schema: DeploymentHandle[Any],
        quality: DeploymentHandle[Any],
    ) -> None:
        settings = load_settings()
        self._clients = await PlatformClients.open(settings)
        domain = DomainServices.build(self._clients, settings, compute=ray_adapters(settings))
        run_sql = cast(Any, ByHandle(execution))
        self._service: PromptService = build_prompt_service(
            self._clients.db,
            settings.prompts,
            datasets_by_handle(schema, quality),
            domain.jobs,
            sql=run_sql,
            saver=run_sql,
            governance=cast(Any, ByHandle(governance)),
            planner=cast(Any, ByHandle(planning)),
            explainer=cast(Any, ByHandle(language)),
        )

    async def execute(self, context: RequestContext, request: ExecuteRequest) -> ExecutionView:
        return await self._service.execute(context, request)

    async def get(self, context: RequestContext, execution: UUID) -> ExecutionView:
        return await self._service.get(context, execution)

    async def list_executions(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> ExecutionPage:
        return await self._service.list_executions(context, limit, cursor)

    async def list_conversations(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> ConversationPage:
        return await self._service.list_conversations(context, limit, cursor)

    async def get_conversation(
        self, context: RequestContext, conversation: UUID
    ) -> ConversationDetail:
        return await self._service.get_conversation(context, conversation)

    async def confirm(self, context: RequestContext, execution: UUID) -> ExecutionView:
        return await self._service.confirm(context, execution)

    async def rerun(self, context: RequestContext, execution: UUID) -> ExecutionView:
        return await self._service.rerun(context, execution)

    async def save(self, context: RequestContext, request: SavedPromptCreate) -> SavedPrompt:
        return await self._service.save(context, request)

    async def list_saved(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> SavedPromptPage:
        return await self._service.list_saved(context, limit, cursor)

    async def delete_saved(self, context: RequestContext, saved: UUID) -> None:
        await self._service.delete_saved(context, saved)

    async def __del__(self) -> None:
        await self._clients.close()


def prompt_studio_app(sizing: GatewaySettings | None = None) -> Application:
    """Prompt Studio bound to its capability services (all in the gateway's application)."""
    sizing = sizing or GatewaySettings()
    services = capability_services(sizing)
    return autoscaled(
        PromptStudio,
        name=PROMPT_STUDIO,
        num_cpus=LIGHT_NUM_CPUS,
        sizing=sizing,
        graceful_shutdown_timeout_s=30,
    ).bind(
        services[PLANNING],
        services[GOVERNANCE],
        services[LANGUAGE],
        services[EXECUTION],
        services[SCHEMA_METADATA],
        services[DATA_QUALITY],
    )


# The Governance agent (GA) and the Operations agent (OSA), each its own deployment. The gateway
# reaches them by handle once it binds them into its application.
GOVERNANCE_AGENT = "governance-agent"
OPERATIONS = "operations"


class GovernanceAgentReplica(GovernanceAgent):
    """:class:`rivergen.agents.governance_agent.GovernanceAgent` over the platform's clients;
    its scans run as Ray tasks."""

    async def __init__(self) -> None:  # type: ignore[misc]  # Serve awaits it
        settings = load_settings()
        self._clients = await PlatformClients.open(settings)
        compute = ray_adapters(settings)
        domain = DomainServices.build(self._clients, settings, compute=compute)
        super().__init__(self._clients.db, domain.datasets, domain.governance, compute.sensitive)

    async def __del__(self) -> None:
        await self._clients.close()


class OperationsReplica(OperationsAgent):
    """:class:`rivergen.agents.operations.OperationsAgent` over the platform's clients and the
    Ray cluster the replica runs on."""

    async def __init__(self) -> None:  # type: ignore[misc]  # Serve awaits it
        settings = load_settings()
        self._own_clients = await PlatformClients.open(settings)
        domain = DomainServices.build(self._own_clients, settings, compute=ray_adapters(settings))
        super().__init__(
            self._own_clients,
            domain.jobs,
            RayClusterReader(),
            settings.gateway.readiness_timeout_s,
        )

    async def __del__(self) -> None:
        await self._own_clients.close()


def _agent(cls: type, name: str, sizing: GatewaySettings) -> Application:
    return autoscaled(
        cls,
        name=name,
        num_cpus=LIGHT_NUM_CPUS,
        sizing=sizing,
        graceful_shutdown_timeout_s=30,
    ).bind()


def governance_agent_app(sizing: GatewaySettings | None = None) -> Application:
    return _agent(GovernanceAgentReplica, GOVERNANCE_AGENT, sizing or GatewaySettings())


def operations_app(sizing: GatewaySettings | None = None) -> Application:
    return _agent(OperationsReplica, OPERATIONS, sizing or GatewaySettings())


# Model Studio (MSA) and Decision Intelligence (DIA), with the Machine Learning and Model
# Monitoring services: each a deployment hosting one of the domain services, reached by handle.
MACHINE_LEARNING = "machine-learning"
MODEL_STUDIO = "model-studio"
MODEL_MONITORING = "model-monitoring"
DECISIONS = "decision-intelligence"


class DomainReplica:
    """A replica hosting one of :class:`rivergen.domain.DomainServices` (:meth:`pick`) over the
    platform's clients: a handle call of any of its methods runs that service's method."""

    @staticmethod
    def pick(domain: DomainServices) -> object:
        raise NotImplementedError

    async def __init__(self) -> None:  # type: ignore[misc]  # Serve awaits it
        settings = load_settings()
        self._clients = await PlatformClients.open(settings)
        domain = DomainServices.build(self._clients, settings, compute=ray_adapters(settings))
        self._target = self.pick(domain)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._target, name)

    async def __del__(self) -> None:
        await self._clients.close()


class MachineLearningReplica(DomainReplica):
    @staticmethod
    def pick(domain: DomainServices) -> object:
        return domain.models


class ModelStudioReplica(DomainReplica):
    @staticmethod
    def pick(domain: DomainServices) -> object:
        return domain.model_studio


class ModelMonitoringReplica(DomainReplica):
    @staticmethod
    def pick(domain: DomainServices) -> object:
        return domain.monitoring


class DecisionsReplica(DomainReplica):
    @staticmethod
    def pick(domain: DomainServices) -> object:
        return domain.decisions


DOMAIN_REPLICAS: dict[str, type[DomainReplica]] = {
    MACHINE_LEARNING: MachineLearningReplica,
    MODEL_STUDIO: ModelStudioReplica,
    MODEL_MONITORING: ModelMonitoringReplica,
    DECISIONS: DecisionsReplica,
}


def domain_apps(sizing: GatewaySettings | None = None) -> list[Application]:
    """Model Studio, Machine Learning, Model Monitoring and Decision Intelligence, bound."""
    return [_agent(cls, name, sizing or GatewaySettings()) for name, cls in DOMAIN_REPLICAS.items()]
