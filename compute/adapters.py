"""Ray's adapters for the library's compute ports, chosen here once: whoever composes the
domain services (the Serve deployments, the in-process app of the tests and benchmarks) passes
:func:`ray_adapters` to :meth:`rivergen.domain.DomainServices.build` or
:func:`rivergen.api.create_app`."""

from __future__ import annotations

from compute.decisions import RayDecisionCompute
from compute.detection import RaySensitiveScanner
from compute.jobs import RayJobRunner
from compute.monitoring import RayMonitoringCompute
from compute.sql import RaySqlRunner
from compute.staging import RayDatasetCompute
from rivergen.agents.prompt_studio.ports import SqlRunner
from rivergen.datasets import DatasetService
from rivergen.domain import ComputeAdapters
from rivergen.services.governance import GovernanceService
from rivergen.settings import Settings


def ray_adapters(settings: Settings) -> ComputeAdapters:
    """Data Staging, the job supervisor, Decision Intelligence, detection, Model Monitoring and
    Execution Support's SQL, each as Ray tasks or actors."""
    staging = RayDatasetCompute(settings)

    def sql(datasets: DatasetService, governance: GovernanceService, timeout_s: float) -> SqlRunner:
        return RaySqlRunner(datasets, governance, staging, timeout_s)

    return ComputeAdapters(
        datasets=staging,
        jobs=RayJobRunner(settings),
        decisions=RayDecisionCompute(settings),
        sensitive=RaySensitiveScanner(settings),
        monitoring=RayMonitoringCompute(),
        sql=sql,
    )
