"""The platform's domain services over one set of clients: built the same way by the gateway
(in its lifespan) and by every deployment that needs them (the agents, Execution Support, the
event workers)."""

from __future__ import annotations

from dataclasses import dataclass

from rivergen.agents.dia import DecisionAgent
from rivergen.agents.dia.ports import DecisionCompute
from rivergen.agents.governance_agent import GovernanceAgent, SensitiveScanner
from rivergen.agents.model_studio import ModelStudio
from rivergen.clients import PlatformClients
from rivergen.connectors.service import DataSourceService
from rivergen.datasets import DatasetCompute, DatasetService
from rivergen.jobs import JobRunner, JobService
from rivergen.jobs.ends import JobEndWatch
from rivergen.notifications import NotificationService
from rivergen.services.governance import GovernanceService
from rivergen.services.ml.service import ModelService
from rivergen.services.monitoring.service import MonitoringService
from rivergen.settings import Settings
from rivergen.storage import StorageService


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
    def build(cls, clients: PlatformClients, settings: Settings) -> DomainServices:
        governance = GovernanceService(clients.db)
        sources = DataSourceService(clients.db, settings, governance)
        datasets = DatasetService(
            clients.db, dataset_compute(settings), sources, clients.objects,
            settings.s3.presign_expiry_s, governance,
        )  # fmt: skip
        ends = JobEndWatch(clients.redis_app)
        clients.on_close(ends.aclose)
        jobs = JobService(clients.db, job_runner(settings), settings.jobs, governance, ends)
        models = ModelService(clients.db, jobs, governance)
        studio = ModelStudio(models, clients.objects, governance)
        return cls(
            governance=governance,
            storage=StorageService(clients.db, clients.objects, settings.storage, governance),
            data_sources=sources,
            datasets=datasets,
            notifications=NotificationService(clients.db),
            governance_agent=GovernanceAgent(
                clients.db, datasets, governance, sensitive_scanner(settings)
            ),
            jobs=jobs,
            models=models,
            model_studio=studio,
            monitoring=MonitoringService(
                clients.db, datasets, governance, lookup=studio, predictor=studio
            ),
            decisions=DecisionAgent(
                clients.db, datasets, studio, settings.decisions, decision_compute(settings)
            ),
        )


def dataset_compute(settings: Settings) -> DatasetCompute:
    # Data Staging runs as Ray tasks (compute/); imported here so the library's modules load
    # without it.
    from compute.staging import RayDatasetCompute

    return RayDatasetCompute(settings)


def job_runner(settings: Settings) -> JobRunner:
    # The job supervisor is a Ray actor (compute/); imported here for the same reason.
    from compute.jobs import RayJobRunner

    return RayJobRunner(settings)


def decision_compute(settings: Settings) -> DecisionCompute:
    # Decision Intelligence decides dataset rows and simulation blocks as Ray tasks.
    from compute.decisions import RayDecisionCompute

    return RayDecisionCompute(settings)


def sensitive_scanner(settings: Settings) -> SensitiveScanner:
    # Detection samples the staged data in a Ray task (compute/): imported here for the same
    # reason.
    from compute.detection import RaySensitiveScanner

    return RaySensitiveScanner(settings)
