"""The simulation worker: runs each requested simulation of a guideline set over a dataset.

It reads ``decision.simulation.request`` (consumer group
``RIVERGEN_DECISIONS__SIMULATION_GROUP``), stages the dataset as its requester may see it,
scores it in blocks with the model (or its baseline), decides every row as Ray tasks over the
staged blocks, records the outcome counts and publishes ``decision.simulation.result`` in the
transaction that records them. A simulation already completed or failed is skipped, so a
redelivered request never runs twice; one found ``running`` (its worker died) runs again.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any
from uuid import UUID

from rivergen.accounts.principal import Principal, RequestContext
from rivergen.acl import Role
from rivergen.agents.dia.agent import DecisionAgent, Scored, simulation_view
from rivergen.agents.dia.ports import DecisionCompute
from rivergen.agents.dia.schemas import SimulationResult, SimulationView
from rivergen.db import Database
from rivergen.errors import RiverGenError
from rivergen.events import Event, EventBus, Topic, add_to_outbox
from rivergen.events.loop import ConsumerLoop
from rivergen.metrics import record_event
from rivergen.services.decisions import store
from rivergen.services.governance.service import record_of

log = logging.getLogger(__name__)

SIMULATION_COMPLETED = "decision.simulation.completed"
SIMULATION_FAILED = "decision.simulation.failed"


def _requester(row: Any) -> RequestContext:
    try:
        principal = Principal(user_id=UUID(row["created_by"]))
    except ValueError:
        principal = Principal()
    return RequestContext(principal, row["workspace_id"], Role[row["requested_role"]])


class SimulationRunner:
    """Runs one simulation by id (what the worker does for each request event)."""

    def __init__(self, db: Database, agent: DecisionAgent, compute: DecisionCompute) -> None:
        self._db = db
        self._agent = agent
        self._compute = compute

    async def run(self, workspace: UUID, simulation: UUID) -> SimulationView | None:
        """Run it unless it is already finished; None when there is no such simulation."""
        async with self._db.transaction(str(workspace)) as conn:
            row = await store.get(conn, "decision_simulations", simulation, lock=True)
            if row is None or row["status"] in ("completed", "failed"):
                return simulation_view(row) if row is not None else None
            await store.set_running(conn, simulation)
        governance: dict[str, Any] = {}
        try:
            result = await self._compute_result(row, governance)
        except Exception as exc:  # the request fails, the worker goes on
            log.exception("simulation %s failed", simulation)
            error = {"code": getattr(exc, "error_code", "internal_error"), "message": str(exc)}
            return await self._finish(row, "failed", None, error, governance or None)
        return await self._finish(row, "completed", result, None, governance)

    async def _compute_result(self, row: Any, governance: dict[str, Any]) -> SimulationResult:
        """The simulation's result; ``governance`` gets what its requester's policies made of
        what it read (the dataset, the scoring model's training data)."""
        context = _requester(row)
        settings = self._agent.settings
        _, guidelines, limits = await self._agent.guidelines(context, row["guideline_id"])
        datasets = self._agent.datasets
        _, key = await datasets.version_key(context, row["dataset_id"], None)
        governed = await datasets.governed(context, row["dataset_id"])
        governance.update(record_of({row["dataset_id"]: governed}, every=True))
        staged = await self._compute.stage(key, governed)
        version: int | str | None = row["model_version"]
        if isinstance(version, str) and version.isdigit():
            version = int(version)
        scores: list[float] = []
        scored_by, fallback, model_version = "model", None, None
        block = settings.simulation_block_rows
        scorers: dict[tuple[UUID, int | None], Scored] = {}
        for offset in range(0, staged.num_rows, block):
            rows = staged.rows(offset, block)
            scored = await self._agent.score(context, row["model_id"], version, rows, explain=False)
            scorers.setdefault((scored.model_id, scored.version), scored)
            scores.extend(scored.scores)
            # The worst scorer of any block is what the summary reports.
            if scored.scored_by != "model" or scored_by == "model":
                scored_by, fallback, model_version = (
                    scored.scored_by,
                    scored.fallback,
                    scored.version,
                )
        outcome = await self._compute.decide(staged, scores, guidelines, limits, block)
        listed = outcome.outcomes if staged.num_rows <= settings.simulation_listed_rows else None
        if listed is not None and governed.max_rows is not None:  # a row limit caps the rows
            listed = listed[: governed.max_rows]
        for scorer in scorers.values():  # and each scoring model's training data
            read = await self._agent.read_under(context, [row["dataset_id"]], scorer)
            governance.update(record_of(read, every=True))
        return SimulationResult(
            rows=staged.num_rows,
            outcome_counts=dict(Counter(outcome.outcomes)),
            limit_hits=outcome.limit_hits,
            rule_hits=outcome.rule_hits,
            mean_score=sum(scores) / len(scores) if scores else None,
            scored_by=scored_by,
            model_version=model_version,
            fallback=fallback,
            row_outcomes=listed,
        )

    async def _finish(
        self,
        row: Any,
        status: str,
        result: SimulationResult | None,
        error: dict[str, Any] | None,
        governance: dict[str, Any] | None,
    ) -> SimulationView:
        workspace = row["workspace_id"]
        async with self._db.transaction(str(workspace)) as conn:
            done = await store.finish_simulation(
                conn,
                row["id"],
                status=status,
                result=result.model_dump(mode="json") if result else None,
                error=error,
                governance=governance,
            )
            data: dict[str, Any] = {"simulation_id": str(row["id"]), "status": status}
            if result is not None:
                data |= {"rows": result.rows, "outcome_counts": result.outcome_counts}
            if error is not None:
                data["error"] = error
            await add_to_outbox(
                conn,
                Topic.DECISION_SIMULATION_RESULT,
                Event(
                    type=SIMULATION_COMPLETED if status == "completed" else SIMULATION_FAILED,
                    workspace_id=workspace,
                    actor=row["created_by"],
                    data=data,
                ),
            )
        return simulation_view(done)


class SimulationWorker(ConsumerLoop):
    """Consumes ``decision.simulation.request`` and runs each simulation; commits the bus
    offsets after the batch's simulations are recorded."""

    def __init__(
        self, bus: EventBus, runner: SimulationRunner, group_id: str, retry_backoff_s: float = 1.0
    ) -> None:
        super().__init__(
            bus,
            Topic.DECISION_SIMULATION_REQUEST,
            group_id,
            name="decision-simulation",
            retry_backoff_s=retry_backoff_s,
            label="simulation worker",
        )
        self._runner = runner

    async def poll_once(self, timeout_s: float = 1.0) -> int:
        """Handle one batch; returns how many simulations it ran or found finished."""
        consumer = self.consumer
        batch = await consumer.getmany(max_records=10, timeout_s=timeout_s)
        handled = 0
        for received in batch:
            event = received.event
            record_event(event.type, "consumed", self._group_id, event.occurred_at)
            simulation = event.data.get("simulation_id")
            if event.workspace_id is None or not isinstance(simulation, str):
                continue
            try:
                done = await self._runner.run(event.workspace_id, UUID(simulation))
            except (RiverGenError, ValueError):
                log.exception("simulation request %s skipped", event.event_id)
                continue
            handled += done is not None
        if batch:
            await consumer.commit()
        return handled
