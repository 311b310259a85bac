"""The Operations agent (OSA): the running cluster (Ray's state API), the Serve deployments and
their replica counts, job retry and a health summary."""

from rivergen.agents.operations.cluster import ClusterReader, RayClusterReader
from rivergen.agents.operations.schemas import (
    ApplicationView,
    ClusterView,
    DeploymentsView,
    DeploymentView,
    HealthSummary,
    JobAttempts,
    JobRetry,
    ServiceStatus,
    WorkspaceHealth,
)
from rivergen.agents.operations.service import OperationsAgent

__all__ = [
    "ApplicationView",
    "ClusterReader",
    "ClusterView",
    "DeploymentView",
    "DeploymentsView",
    "HealthSummary",
    "JobAttempts",
    "JobRetry",
    "OperationsAgent",
    "RayClusterReader",
    "ServiceStatus",
    "WorkspaceHealth",
]
