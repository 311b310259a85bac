"""Typed dependencies for route functions: the settings, and each service of the app's
:class:`~rivergen.api.registry.ServiceRegistry` (in this process or, on Serve, by handle)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from rivergen.accounts.gatekeeper import Gatekeeper
from rivergen.api.registry import (
    DecisionsPort,
    GovernanceAgentPort,
    ModelsPort,
    ModelStudioPort,
    MonitoringPort,
    OperationsPort,
    PromptStudioPort,
    ServiceRegistry,
    registry_of,
)
from rivergen.clients import PlatformClients
from rivergen.connectors.service import DataSourceService
from rivergen.core import BackendCorePort
from rivergen.datasets import DatasetService
from rivergen.jobs import JobService
from rivergen.notifications import NotificationService
from rivergen.ratelimit import RateLimiter
from rivergen.semantic.service import SemanticService
from rivergen.services.governance import GovernanceService
from rivergen.settings import Settings
from rivergen.storage import StorageService


def _registry(request: Request) -> ServiceRegistry:
    return registry_of(request.app)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


RegistryDep = Annotated[ServiceRegistry, Depends(_registry)]
SettingsDep = Annotated[Settings, Depends(_settings)]


def _clients(registry: RegistryDep) -> PlatformClients:
    return registry.clients


def _gatekeeper(registry: RegistryDep) -> Gatekeeper:
    return registry.gatekeeper


def _rate_limiter(registry: RegistryDep) -> RateLimiter:
    return registry.rate_limiter


def _core(registry: RegistryDep) -> BackendCorePort:
    return registry.core


def _governance(registry: RegistryDep) -> GovernanceService:
    return registry.governance


def _storage(registry: RegistryDep) -> StorageService:
    return registry.storage


def _data_sources(registry: RegistryDep) -> DataSourceService:
    return registry.data_sources


def _datasets(registry: RegistryDep) -> DatasetService:
    return registry.datasets


def _notifications(registry: RegistryDep) -> NotificationService:
    return registry.notifications


def _jobs(registry: RegistryDep) -> JobService:
    return registry.jobs


def _semantic(registry: RegistryDep) -> SemanticService:
    return registry.semantic


def _prompts(registry: RegistryDep) -> PromptStudioPort:
    return registry.prompts


def _models(registry: RegistryDep) -> ModelsPort:
    return registry.models


def _model_studio(registry: RegistryDep) -> ModelStudioPort:
    return registry.model_studio


def _monitoring(registry: RegistryDep) -> MonitoringPort:
    return registry.monitoring


def _decisions(registry: RegistryDep) -> DecisionsPort:
    return registry.decisions


def _governance_agent(registry: RegistryDep) -> GovernanceAgentPort:
    return registry.governance_agent


def _operations(registry: RegistryDep) -> OperationsPort:
    return registry.operations


ClientsDep = Annotated[PlatformClients, Depends(_clients)]
GatekeeperDep = Annotated[Gatekeeper, Depends(_gatekeeper)]
RateLimiterDep = Annotated[RateLimiter, Depends(_rate_limiter)]
CoreDep = Annotated[BackendCorePort, Depends(_core)]
GovernanceDep = Annotated[GovernanceService, Depends(_governance)]
StorageDep = Annotated[StorageService, Depends(_storage)]
DataSourcesDep = Annotated[DataSourceService, Depends(_data_sources)]
DatasetsDep = Annotated[DatasetService, Depends(_datasets)]
NotificationsDep = Annotated[NotificationService, Depends(_notifications)]
JobsDep = Annotated[JobService, Depends(_jobs)]
SemanticDep = Annotated[SemanticService, Depends(_semantic)]
PromptsDep = Annotated[PromptStudioPort, Depends(_prompts)]
ModelsDep = Annotated[ModelsPort, Depends(_models)]
ModelStudioDep = Annotated[ModelStudioPort, Depends(_model_studio)]
MonitoringDep = Annotated[MonitoringPort, Depends(_monitoring)]
DecisionsDep = Annotated[DecisionsPort, Depends(_decisions)]
GovernanceAgentDep = Annotated[GovernanceAgentPort, Depends(_governance_agent)]
OperationsDep = Annotated[OperationsPort, Depends(_operations)]

# The paging parameters of every list route: newest first, follow `next_cursor`.
PageLimit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
PageCursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
]
