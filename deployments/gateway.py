"""The gateway: FastAPI ingress on Ray Serve.

The app is built on each replica by :func:`rivergen.api.create_app` (a builder function), so
settings are read from the replica's environment and nothing is built at import time.
``deployments/serve_config.yaml`` may override every option set here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from ray import serve
from ray.serve.deployment import Application
from ray.serve.handle import DeploymentHandle

from compute.adapters import ray_adapters
from deployments import agents, core
from deployments.agents import domain_apps, governance_agent_app, operations_app, prompt_studio_app
from deployments.core import core_deployment
from deployments.handles import by_handle
from deployments.scaling import autoscaled
from rivergen.api import GATEWAY_ROUTERS, create_app
from rivergen.api.registry import Elsewhere
from rivergen.clients import PlatformClients
from rivergen.settings import GatewaySettings


def elsewhere(_: PlatformClients) -> Elsewhere:
    """The services of the gateway's registry that run in the other deployments of its
    application, each by handle (the others run in the gateway's replicas)."""
    return Elsewhere(
        core=by_handle(core.DEPLOYMENT_NAME),
        prompts=by_handle(agents.PROMPT_STUDIO),
        models=by_handle(agents.MACHINE_LEARNING),
        model_studio=by_handle(agents.MODEL_STUDIO),
        monitoring=by_handle(agents.MODEL_MONITORING),
        decisions=by_handle(agents.DECISIONS),
        governance_agent=by_handle(agents.GOVERNANCE_AGENT),
        operations=by_handle(agents.OPERATIONS),
    )


def _build_app() -> FastAPI:
    # Serve's proxy takes the client's X-Request-ID (or makes one), passes it to the replica in
    # the request and echoes it on the response; the app must not echo it a second time.
    # The storage routes are Storage Orchestration's (deployments/storage.py), its own app.
    return create_app(
        compute=ray_adapters,
        echo_request_id=False,
        routers=GATEWAY_ROUTERS,
        elsewhere=elsewhere,
    )


@serve.ingress(_build_app)
class Gateway:
    """Routes, workspace context, authentication and authorization live in the app.

    Backend Core, the agents (Prompt Studio with its capability services, Model Studio,
    Decision Intelligence, the Governance and Operations agents) and the Machine Learning and
    Model Monitoring services are bound into the gateway's application; the app reaches them
    by handle (:func:`elsewhere`).
    """

    def __init__(self, *bound: DeploymentHandle[Any]) -> None:
        self._bound = bound


def gateway_app(settings: GatewaySettings | None = None) -> Application:
    """The gateway application, sized by ``settings`` (its defaults fit a 2-core machine)."""
    sizing = settings or GatewaySettings()
    deployment = autoscaled(
        Gateway,
        name="gateway",
        num_cpus=sizing.replica_num_cpus,
        sizing=sizing,
        min_replicas=sizing.min_replicas,
        health_check_period_s=5,
        graceful_shutdown_timeout_s=10,
    )
    return deployment.bind(
        core_deployment(sizing),
        prompt_studio_app(sizing),
        governance_agent_app(sizing),
        operations_app(sizing),
        *domain_apps(sizing),
    )


# `serve deploy deployments/serve_config.yaml` imports this (import_path deployments.gateway:app).
app = gateway_app()
