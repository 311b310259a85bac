"""Storage Orchestration: the upload path as a Serve application of its own.

It serves ``/api/v1/storage/...`` under its own route prefix (Serve routes by the longest
prefix, so these requests never pass through the gateway's replicas) and scales on its own: it
answers part PUTs of the embedded store and verifies completed uploads, the platform's high-I/O
work. The app is the same :func:`rivergen.api.create_app` as the gateway's, with the storage
routers only: the same authentication (JWT or API key, one Gatekeeper), the same authorization
table, the same error handling.
"""

from __future__ import annotations

from fastapi import FastAPI
from ray import serve
from ray.serve.deployment import Application

from compute.adapters import ray_adapters
from deployments.scaling import autoscaled
from rivergen.api import STORAGE_PREFIX, STORAGE_ROUTERS, create_app
from rivergen.settings import GatewaySettings, StorageSettings

DEPLOYMENT_NAME = "storage-orchestration"
ROUTE_PREFIX = STORAGE_PREFIX


def _build_app() -> FastAPI:
    # Serve echoes X-Request-ID itself; Serve mounts the app at ROUTE_PREFIX.
    return create_app(
        compute=ray_adapters,
        echo_request_id=False,
        routers=STORAGE_ROUTERS,
        mounted_at=ROUTE_PREFIX,
    )


@serve.ingress(_build_app)
class StorageOrchestration:
    """Uploads, parts, files and quota; the logic is :class:`rivergen.storage.StorageService`."""


def storage_app(
    storage: StorageSettings | None = None, gateway: GatewaySettings | None = None
) -> Application:
    """The Storage Orchestration application, sized by ``storage`` (replicas, CPUs) and
    ``gateway`` (requests per replica); the defaults fit a 2-core machine."""
    sizing = storage or StorageSettings()
    requests = gateway or GatewaySettings()
    # A part PUT or a completion may take a while: let it finish on a stopping replica.
    return autoscaled(
        StorageOrchestration,
        name=DEPLOYMENT_NAME,
        num_cpus=sizing.replica_num_cpus,
        sizing=requests,
        max_replicas=sizing.max_replicas,
        health_check_period_s=5,
        graceful_shutdown_timeout_s=30,
    ).bind()


# `serve deploy deployments/serve_config.yaml` imports this (deployments.storage:app).
app = storage_app()
