"""The platform's domain services over one set of clients: built the same way by the gateway
(in its lifespan) and by every deployment that needs them (the agents, Execution Support, the
event workers), on the compute adapters the caller hands in (:class:`ComputeAdapters`: Ray's
are ``compute/adapters.py``'s; the library never picks them)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from rivergen.agents.dia import DecisionAgent, SimulationRunner, SimulationWorker
from rivergen.agents.dia.ports import DecisionCompute
from rivergen.agents.governance_agent import GovernanceAgent, SensitiveScanner
from rivergen.agents.model_studio import ModelStudio
from rivergen.agents.prompt_studio.ports import SqlRunnerFactory
from rivergen.clients import PlatformClients
from rivergen.connectors.service import DataSourceService
from rivergen.datasets import DatasetCompute, DatasetService
from rivergen.jobs import JobRunner, JobService
from rivergen.jobs.ends import JobEndWatch
from rivergen.notifications import NotificationService
from rivergen.services.governance import GovernanceService
from rivergen.services.ml.schemas import Predictor
from rivergen.services.ml.service import ModelService
from rivergen.services.monitoring.ports import MonitoringCompute
from rivergen.services.monitoring.service import MonitoringService
from rivergen.settings import Settings
from rivergen.storage import StorageService


@dataclass(frozen=True)
class ComputeAdapters:
    """The compute the domain services run on, chosen by whoever composes them (on Ray:
    ``compute.adapters.ray_adapters``)."""

    datasets: DatasetCompute  # Data Staging
    jobs: JobRunner  # the job supervisor
    decisions: DecisionCompute  # Decision Intelligence's rows and simulation blocks
    sensitive: SensitiveScanner  # the Governance agent's detection
    monitoring: MonitoringCompute  # Model Monitoring's statistics
    sql: SqlRunnerFactory  # Execution Support's governed SQL


@dataclass(frozen=True)
class DomainServices:
    governance: GovernanceService
    storage: StorageService
    data_sources: DataSourceService
    datasets: DatasetService
    notifications: NotificationService
    jobs: JobService
    governance_agent: GovernanceAgent
    models: ModelService
    model_studio: ModelStudio
    monitoring: MonitoringService
    decisions: DecisionAgent

    @classmethod
    def build(
        cls, clients: PlatformClients, settings: Settings, *, compute: ComputeAdapters
    ) -> DomainServices:
        governance = GovernanceService(clients.db)
        sources = DataSourceService(clients.db, settings, governance)
        datasets = DatasetService(
            clients.db,
            compute.datasets,
            sources,
            clients.objects,
            settings.s3.presign_expiry_s,
            governance,
        )
        ends = JobEndWatch(clients.redis_app)
        clients.on_close(ends.aclose)
        jobs = JobService(clients.db, compute.jobs, settings.jobs, governance, ends)
        models = ModelService(clients.db, jobs, governance)
        studio = ModelStudio(models, clients.objects, governance)
        return cls(
            governance=governance,
            storage=StorageService(clients.db, clients.objects, settings.storage, governance),
            data_sources=sources,
            datasets=datasets,
            notifications=NotificationService(clients.db),
            governance_agent=GovernanceAgent(clients.db, datasets, governance, compute.sensitive),
            jobs=jobs,
            models=models,
            model_studio=studio,
            monitoring=MonitoringService(
                clients.db,
                datasets,
                governance,
                lookup=studio,
                predictor=studio,
                compute=compute.monitoring,
            ),
            decisions=DecisionAgent(
                clients.db, datasets, studio, settings.decisions, compute.decisions
            ),
        )


class SimulationProcess:
    """A simulation worker with its own clients: what the worker deployment runs."""

    def __init__(self, clients: PlatformClients, worker: SimulationWorker) -> None:
        self._clients = clients
        self.worker = worker

    @classmethod
    async def open(
        cls, settings: Settings, compute: ComputeAdapters, predictor: Predictor | None = None
    ) -> SimulationProcess:
        """``predictor`` scores the rows (default: the Machine Learning service's models)."""
        clients = await PlatformClients.open(settings)
        try:
            domain = DomainServices.build(clients, settings, compute=compute)
            agent = DecisionAgent(
                clients.db,
                domain.datasets,
                predictor or domain.model_studio,
                settings.decisions,
                compute.decisions,
            )
            runner = SimulationRunner(clients.db, agent, compute.decisions)
        except BaseException:
            await clients.close()
            raise
        group = settings.decisions.simulation_group
        return cls(clients, SimulationWorker(clients.events, runner, group))

    async def run(self, stop: asyncio.Event) -> None:
        await self.worker.run(stop)

    async def close(self) -> None:
        await self._clients.close()
