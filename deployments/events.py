"""Background workers on Serve: the outbox relay, the billing metering consumer, the
notification bridge, the sweeper of abandoned uploads and Decision Intelligence's simulation
worker.

Each is one small replica that serves no requests; all but the relay (which runs its own task)
are a :class:`BackgroundReplica` over a library worker with ``run(stop)`` and ``close()``.
Several relays would be safe (they take turns under a transaction-scoped advisory lock) but one
publishes 100 events a round; the metering consumer is one member of the Kafka group
`billing-metering`; the notification bridge is one member of `notification-bridge` (it keeps
and emits the events people see); the sweeper expires abandoned uploads every
`RIVERGEN_STORAGE__SWEEP_INTERVAL_S` (two sweepers would be safe too).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol

from ray import serve
from ray.serve.deployment import Application
from ray.serve.handle import DeploymentHandle

from compute.adapters import ray_adapters
from deployments.scaling import LIGHT_NUM_CPUS
from rivergen.billing import MeteringService
from rivergen.domain import SimulationProcess
from rivergen.events.relay_worker import RelayWorker
from rivergen.notifications import NotificationBridge
from rivergen.settings import Settings, load_settings
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


class Background(Protocol):
    """A worker of the library that runs until told to stop (``run``), then closes."""

    async def run(self, stop: asyncio.Event) -> None: ...

    async def close(self) -> None: ...


class BackgroundReplica(ABC):
    """One replica serving no requests: it opens its worker (:meth:`open`), runs the worker's
    ``run(stop)`` as a task, fails its health check once that task has ended (Serve then
    restarts the replica), and on shutdown stops the task and closes the worker."""

    what: ClassVar[str]
    """The worker, for the task's name and the health check's message."""

    @abstractmethod
    async def open(self, settings: Settings) -> Background:
        """The worker, with its own clients."""

    async def __init__(self) -> None:  # type: ignore[misc]  # Serve awaits it
        self._worker = await self.open(load_settings())
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._worker.run(self._stop), name=self.what)

    async def check_health(self) -> None:
        # Serve restarts a replica whose health check raises.
        if self._task.done():
            raise RuntimeError(f"the {self.what} has stopped")

    async def __del__(self) -> None:
        self._stop.set()
        await self._task
        await self._worker.close()


class MeteringDeployment(BackgroundReplica):
    what = "metering consumer"

    async def open(self, settings: Settings) -> Background:
        return await MeteringService.open(settings)


class NotificationBridgeDeployment(BackgroundReplica):
    what = "notification bridge"

    async def open(self, settings: Settings) -> Background:
        return await NotificationBridge.open(settings)


class UploadSweeperDeployment(BackgroundReplica):
    what = "upload sweeper"

    async def open(self, settings: Settings) -> Background:
        return await UploadSweeper.open(settings)


class SimulationWorkerDeployment(BackgroundReplica):
    """Decision Intelligence's simulations: each `decision.simulation.request` scored with the
    Machine Learning service's models (consumer group `RIVERGEN_DECISIONS__SIMULATION_GROUP`;
    several replicas would share the topic's partitions)."""

    what = "decision simulation worker"

    async def open(self, settings: Settings) -> Background:
        return await SimulationProcess.open(settings, ray_adapters(settings))


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
