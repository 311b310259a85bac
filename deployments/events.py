"""The outbox relay on Serve: one small replica that publishes committed events to the bus.

Several replicas would be safe (they take turns under a transaction-scoped advisory lock), but
one is enough: a round publishes up to 100 events.
"""

from __future__ import annotations

from ray import serve
from ray.serve.deployment import Application

from rivergen.events.relay_worker import RelayWorker
from rivergen.settings import load_settings


class OutboxRelayDeployment:
    async def __init__(self) -> None:  # type: ignore[misc]  # Serve awaits it
        self._worker = await RelayWorker.open(load_settings())

    async def check_health(self) -> None:
        # Serve restarts a replica whose health check raises.
        if not self._worker.healthy:
            raise RuntimeError("the outbox relay task has stopped")

    async def __del__(self) -> None:
        await self._worker.close()


def relay_app() -> Application:
    deployment = serve.deployment(
        name="outbox-relay",
        num_replicas=1,
        ray_actor_options={"num_cpus": 0.05},
        max_ongoing_requests=4,
        health_check_period_s=10,
    )(OutboxRelayDeployment)
    return deployment.bind()


# `serve deploy deployments/serve_config.yaml` imports this (deployments.events:app).
app = relay_app()
