"""Decision Intelligence's simulation worker on Serve, in the event workers' style: one small
replica that serves no requests and runs each `decision.simulation.request` (consumer group
`RIVERGEN_DECISIONS__SIMULATION_GROUP`; several replicas share the topic's partitions)."""

from __future__ import annotations

import asyncio
from typing import Any

from ray import serve
from ray.serve.deployment import Application
from ray.serve.handle import DeploymentHandle

from rivergen.agents.dia import SimulationProcess
from rivergen.settings import load_settings

SIMULATION_WORKER = "decision-simulation"


class SimulationWorkerDeployment:
    async def __init__(self) -> None:  # type: ignore[misc]  # Serve awaits it
        # No Predictor is wired yet: rows are scored by the constant baseline until the
        # Machine Learning service's is passed here.
        self._process = await SimulationProcess.open(load_settings(), predictor=None)
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._process.run(self._stop), name=SIMULATION_WORKER)

    async def check_health(self) -> None:
        if self._task.done():
            raise RuntimeError("the decision simulation worker has stopped")

    async def __del__(self) -> None:
        self._stop.set()
        await self._task
        await self._process.close()


class DecisionWorkers:
    """The application's ingress: it only keeps the worker bound into the application."""

    def __init__(self, *workers: DeploymentHandle[Any]) -> None:
        self._workers = workers


def decisions_app() -> Application:
    worker = serve.deployment(
        name=SIMULATION_WORKER,
        num_replicas=1,
        ray_actor_options={"num_cpus": 0.05},
        max_ongoing_requests=4,
        health_check_period_s=10,
    )(SimulationWorkerDeployment).bind()
    ingress = serve.deployment(
        name="decision-workers", num_replicas=1, ray_actor_options={"num_cpus": 0.01}
    )(DecisionWorkers)
    return ingress.bind(worker)


# `serve deploy` imports this (deployments.decisions:app).
app = decisions_app()
