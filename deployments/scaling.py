"""How every autoscaling deployment of the platform is declared: one place for the options
Serve scales by, so the gateway, Storage Orchestration, Backend Core, the agents and the
capability services differ only in what they say differs."""

from __future__ import annotations

from typing import Any

from ray import serve
from ray.serve.deployment import Deployment

from rivergen.settings import GatewaySettings

LIGHT_NUM_CPUS = 0.02
"""What an agent, a capability service or an event worker reserves: they wait on Postgres,
handles and Ray tasks (the compute runs as tasks, which reserve their own). Together they must
leave a 2-core head room for those tasks."""


def autoscaled(
    cls: Any,
    *,
    name: str,
    num_cpus: float,
    sizing: GatewaySettings,
    min_replicas: int = 1,
    max_replicas: int | None = None,
    health_check_period_s: float = 10,
    graceful_shutdown_timeout_s: float | None = None,
) -> Deployment:
    """``cls`` as a deployment of ``num_cpus`` per replica, between ``min_replicas`` and
    ``max_replicas`` (default ``sizing.max_replicas``) replicas, scaled on ongoing requests
    (``sizing.target_ongoing_requests`` each, ``sizing.max_ongoing_requests`` at most)."""
    if not str(cls.__module__).startswith("deployments."):
        # Its replicas would never import this package (deployments/loopback.py needs it).
        raise TypeError(f"{cls.__qualname__}: deploy a class defined in `deployments`")
    options: dict[str, Any] = {
        "name": name,
        "ray_actor_options": {"num_cpus": num_cpus},
        "max_ongoing_requests": sizing.max_ongoing_requests,
        "autoscaling_config": {
            "min_replicas": min_replicas,
            "max_replicas": max_replicas or sizing.max_replicas,
            "target_ongoing_requests": sizing.target_ongoing_requests,
            "upscale_delay_s": 5,
            "downscale_delay_s": 60,
        },
        "health_check_period_s": health_check_period_s,
    }
    if graceful_shutdown_timeout_s is not None:
        options["graceful_shutdown_timeout_s"] = graceful_shutdown_timeout_s
    deployment: Deployment = serve.deployment(**options)(cls)
    return deployment
