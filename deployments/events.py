"""Background workers on Serve: the outbox relay, the billing metering consumer, the
notification bridge and the sweeper of abandoned uploads.

Each is one small replica that serves no requests. Several relays would be safe (they take
turns under a transaction-scoped advisory lock) but one publishes 100 events a round; the
metering consumer is one member of the Kafka group `billing-metering`; the notification
bridge is one member of `notification-bridge` (it keeps and emits the events people see); the
sweeper expires abandoned uploads every `RIVERGEN_STORAGE__SWEEP_INTERVAL_S` (two sweepers
would be safe too).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ray import serve
from ray.serve.deployment import Application
from ray.serve.handle import DeploymentHandle

from compute.adapters import ray_adapters
from deployments.scaling import LIGHT_NUM_CPUS
from rivergen.billing import MeteringService
from rivergen.domain import SimulationProcess
from rivergen.events.relay_worker import RelayWorker
from rivergen.notifications import NotificationBridge
from rivergen.settings import load_settings
from rivergen.storage import UploadSweeper


class OutboxRelayDeployment:
    async def __init__(self) -> None:  # type: ignore[misc]  # Serve awaits it
        self._worker = await RelayWorker.open(load_settings())

    async def check_health(self) -> None:
        # Serve restarts a replica whose health check raises.
        if not self._worker.healthy:
            raise RuntimeError("the outbox relay task has stopped")

    async def __del__(self) -> None:
        await self._worker.close()


class MeteringDeployment:
    async def __init__(self) -> None:  # type: ignore[misc]  # Serve awaits it
        self._service = await MeteringService.open(load_settings())
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._service.run(self._stop), name="metering")

    async def check_health(self) -> None:
        if self._task.done():
            raise RuntimeError("the metering consumer has stopped")

    async def __del__(self) -> None:
        self._stop.set()
        await self._task
        await self._service.close()


class NotificationBridgeDeployment:
    async def __init__(self) -> None:  # type: ignore[misc]  # Serve awaits it
        self._bridge = await NotificationBridge.open(load_settings())
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._bridge.run(self._stop), name="notification-bridge")

    async def check_health(self) -> None:
        if self._task.done():
            raise RuntimeError("the notification bridge has stopped")

    async def __del__(self) -> None:
        self._stop.set()
        await self._task
        await self._bridge.close()


class UploadSweeperDeployment:
    async def __init__(self) -> None:  # type: ignore[misc]  # Serve awaits it
        self._sweeper = await UploadSweeper.open(load_settings())
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._sweeper.run(self._stop), name="upload-sweeper")

    async def check_health(self) -> None:
        if self._task.done():
            raise RuntimeError("the upload sweeper has stopped")

    async def __del__(self) -> None:
        self._stop.set()
        await self._task
        await self._sweeper.close()


class SimulationWorkerDeployment:
    """Decision Intelligence's simulations: each `decision.simulation.request` scored with the
    Machine Learning service's models (consumer group `RIVERGEN_DECISIONS__SIMULATION_GROUP`;
    several replicas would share the topic's partitions)."""

    async def __init__(self) -> None:  # type: ignore[misc]  # Serve awaits it
        settings = load_settings()
        self._process = await SimulationProcess.open(settings, ray_adapters(settings))
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._process.run(self._stop), name="decision-simulation")

    async def check_health(self) -> None:
        if self._task.done():
            raise RuntimeError("the decision simulation worker has stopped")

    async def __del__(self) -> None:
        self._stop.set()
        await self._task
        await self._process.close()


class EventWorkers:
    """The application's ingress: it only keeps the workers bound into the application."""

    def __init__(self, *workers: DeploymentHandle[Any]) -> None:
        self._workers = workers


def _worker(name: str, cls: type) -> Application:
    return serve.deployment(
        name=name,
        num_replicas=1,
        ray_actor_options={"num_cpus": LIGHT_NUM_CPUS},
        max_ongoing_requests=4,
        health_check_period_s=10,
    )(cls).bind()


def relay_app() -> Application:
    ingress = serve.deployment(
        name="event-workers", num_replicas=1, ray_actor_options={"num_cpus": 0.01}
    )(EventWorkers)
    return ingress.bind(
        _worker("outbox-relay", OutboxRelayDeployment),
        _worker("billing-metering", MeteringDeployment),
        _worker("notification-bridge", NotificationBridgeDeployment),
        _worker("upload-sweeper", UploadSweeperDeployment),
        _worker("decision-simulation", SimulationWorkerDeployment),
    )


# `serve deploy deployments/serve_config.yaml` imports this (deployments.events:app).
app = relay_app()
