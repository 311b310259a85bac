"""The capability services Prompt Studio reaches by handle, each a Serve deployment with
autoscaling: Planning, Governance, Language & Explanation, Execution Support, Schema & Metadata
and Data Quality & Profiling. The Prompt Studio agent (``deployments/agents.py``) holds their
handles. None keeps state in its replica (what they keep is in Postgres and object storage);
their logic is the library's (``rivergen/services/``, ``rivergen/datasets/``,
``rivergen/quality/``), their compute Ray tasks (``compute/``).

The other two capability services are deployments of ``deployments/agents.py``:
``machine-learning`` and ``model-monitoring``. Governance is also evaluated in process by every
domain service that reads data (the choke point of ``rivergen.services.governance``): no extra
hop on the data paths.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from ray.serve.deployment import Application
from ray.serve.handle import DeploymentHandle

from compute.adapters import ray_adapters
from deployments.handles import ByHandle
from deployments.scaling import LIGHT_NUM_CPUS, autoscaled
from rivergen.accounts.principal import RequestContext
from rivergen.agents.prompt_studio.ports import SavedAnswer, SqlAnswer
from rivergen.clients import PlatformClients
from rivergen.datasets import DatasetService
from rivergen.datasets.schemas import (
    DatasetPage,
    DatasetUpdate,
    DatasetView,
    ProfileView,
    QualityCheck,
    QualityReport,
    SearchResults,
)
from rivergen.domain import DomainServices
from rivergen.services.execution.save import JobResultSaver
from rivergen.services.governance import GovernanceService
from rivergen.services.language import ExplanationService
from rivergen.services.planning.catalog import PromptCatalog
from rivergen.services.planning.service import PlanningService
from rivergen.settings import GatewaySettings, load_settings

PLANNING = "planning"
GOVERNANCE = "governance"
LANGUAGE = "language-explanation"
EXECUTION = "execution-support"
SCHEMA_METADATA = "schema-metadata"
DATA_QUALITY = "data-quality-profiling"


class Governance(GovernanceService):
    """Policies and their evaluation over the platform's Postgres."""

    async def __init__(self) -> None:  # type: ignore[misc]  # Serve awaits it
        self._clients = await PlatformClients.open(load_settings())
        super().__init__(self._clients.db)

    async def __del__(self) -> None:
        await self._clients.close()


class ExecutionSupport:
    """Runs a plan's SQL, governed (Governance by handle), on Internal Compute as Ray tasks, and
    its write-backs as query jobs."""

    async def __init__(self, governance: DeploymentHandle[Any]) -> None:  # type: ignore[misc]
        settings = load_settings()
        self._clients = await PlatformClients.open(settings)
        compute = ray_adapters(settings)
        domain = DomainServices.build(self._clients, settings, compute=compute)
        timeout_s = settings.prompts.max_seconds
        by_handle = cast(GovernanceService, ByHandle(governance))  # its methods, by handle
        self._sql = compute.sql(domain.datasets, by_handle, timeout_s)
        self._saver = JobResultSaver(domain.jobs, timeout_s)

    async def run(
        self, context: RequestContext, sql: str, catalog: PromptCatalog, row_limit: int
    ) -> SqlAnswer:
        return await self._sql.run(context, sql, catalog, row_limit)

    async def save(
        self, context: RequestContext, sql: str, name: str, catalog: PromptCatalog
    ) -> SavedAnswer:
        return await self._saver.save(context, sql, name, catalog)

    async def __del__(self) -> None:
        await self._clients.close()


class Planning(PlanningService):
    """Planning as it is, a class of this package: a replica imports ``deployments`` when it
    loads its class (``deployments/loopback.py`` needs that)."""


class LanguageExplanation(ExplanationService):
    """Language & Explanation as it is, a class of this package (see :class:`Planning`)."""


class SchemaMetadata:
    """Schema & Metadata: the dataset registry (:class:`rivergen.datasets.DatasetService`):
    datasets, their columns and versions, and the catalog search."""

    async def __init__(self) -> None:  # type: ignore[misc]  # Serve awaits it
        settings = load_settings()
        self._clients = await PlatformClients.open(settings)
        self._datasets = DomainServices.build(
            self._clients, settings, compute=ray_adapters(settings)
        ).datasets

    async def get(self, context: RequestContext, dataset: UUID) -> DatasetView:
        return await self._datasets.get(context, dataset)

    async def list_datasets(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> DatasetPage:
        return await self._datasets.list_datasets(context, limit, cursor)

    async def search(self, context: RequestContext, q: str, limit: int) -> SearchResults:
        return await self._datasets.search(context, q, limit)

    async def update(
        self, context: RequestContext, dataset: UUID, request: DatasetUpdate
    ) -> DatasetView:
        return await self._datasets.update(context, dataset, request)

    async def delete(self, context: RequestContext, dataset: UUID) -> None:
        await self._datasets.delete(context, dataset)

    async def __del__(self) -> None:
        await self._clients.close()


class DataQualityProfiling:
    """Data Quality & Profiling: a dataset version's profile and its quality rules, computed as
    Ray tasks (``compute/profiling.py``) and kept with the version."""

    async def __init__(self) -> None:  # type: ignore[misc]  # Serve awaits it
        settings = load_settings()
        self._clients = await PlatformClients.open(settings)
        self._datasets = DomainServices.build(
            self._clients, settings, compute=ray_adapters(settings)
        ).datasets

    async def profile(
        self, context: RequestContext, dataset: UUID, version: int | None
    ) -> ProfileView:
        return await self._datasets.profile(context, dataset, version)

    async def get_profile(
        self, context: RequestContext, dataset: UUID, version: int | None
    ) -> ProfileView:
        return await self._datasets.get_profile(context, dataset, version)

    async def check_quality(
        self, context: RequestContext, dataset: UUID, request: QualityCheck
    ) -> QualityReport:
        return await self._datasets.check_quality(context, dataset, request)

    async def __del__(self) -> None:
        await self._clients.close()


class DatasetsByHandle:
    """The dataset port of Prompt Studio's tools over two handles: the registry and the catalog
    from Schema & Metadata, profiles from Data Quality & Profiling."""

    def __init__(self, schema: DeploymentHandle[Any], quality: DeploymentHandle[Any]) -> None:
        self._schema = ByHandle(schema)
        self._quality = ByHandle(quality)

    async def get(self, context: RequestContext, dataset: UUID) -> DatasetView:
        view: DatasetView = await self._schema.get(context, dataset)
        return view

    async def search(self, context: RequestContext, q: str, limit: int) -> SearchResults:
        found: SearchResults = await self._schema.search(context, q, limit)
        return found

    async def delete(self, context: RequestContext, dataset: UUID) -> None:
        await self._schema.delete(context, dataset)

    async def profile(
        self, context: RequestContext, dataset: UUID, version: int | None
    ) -> ProfileView:
        view: ProfileView = await self._quality.profile(context, dataset, version)
        return view


def datasets_by_handle(
    schema: DeploymentHandle[Any], quality: DeploymentHandle[Any]
) -> DatasetService:
    """For Prompt Studio: :class:`DatasetsByHandle` where its tools take the dataset service
    (they call ``get``, ``search``, ``delete`` and ``profile`` alone)."""
    return cast(DatasetService, DatasetsByHandle(schema, quality))


def service(cls: type, name: str, sizing: GatewaySettings) -> Any:
    """``cls`` as a stateless deployment scaled on its ongoing requests."""
    return autoscaled(
        cls,
        name=name,
        num_cpus=LIGHT_NUM_CPUS,
        sizing=sizing,
        graceful_shutdown_timeout_s=10,
    )


def capability_services(sizing: GatewaySettings) -> dict[str, Application]:
    """Prompt Studio's six services, bound (Execution Support holds a handle to Governance)."""
    governance = service(Governance, GOVERNANCE, sizing).bind()
    return {
        PLANNING: service(Planning, PLANNING, sizing).bind(),
        GOVERNANCE: governance,
        LANGUAGE: service(LanguageExplanation, LANGUAGE, sizing).bind(),
        EXECUTION: service(ExecutionSupport, EXECUTION, sizing).bind(governance),
        SCHEMA_METADATA: service(SchemaMetadata, SCHEMA_METADATA, sizing).bind(),
        DATA_QUALITY: service(DataQualityProfiling, DATA_QUALITY, sizing).bind(),
    }
