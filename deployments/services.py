"""Prompt Studio's capability services, each a stateless Serve deployment with autoscaling:
Planning, Governance, Language & Explanation and Execution Support. The Prompt Studio agent
(``deployments/agents.py``) reaches them by handle; their logic is the library's
(``rivergen/services/``), their compute Ray tasks (``compute/``).
"""

from __future__ import annotations

from typing import Any, cast

from ray.serve.deployment import Application
from ray.serve.handle import DeploymentHandle

from compute.adapters import ray_adapters
from deployments.handles import ByHandle
from deployments.scaling import LIGHT_NUM_CPUS, autoscaled
from rivergen.accounts.principal import RequestContext
from rivergen.agents.psa.ports import SavedAnswer, SqlAnswer
from rivergen.clients import PlatformClients
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
    """The four services, bound (Execution Support holds a handle to Governance)."""
    governance = service(Governance, GOVERNANCE, sizing).bind()
    return {
        PLANNING: service(Planning, PLANNING, sizing).bind(),
        GOVERNANCE: governance,
        LANGUAGE: service(LanguageExplanation, LANGUAGE, sizing).bind(),
        EXECUTION: service(ExecutionSupport, EXECUTION, sizing).bind(governance),
    }
