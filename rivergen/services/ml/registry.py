"""Registering what a training job made: its candidates as model versions, the best as the
`champion`, and the events that say so, in one transaction (the outbox)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from rivergen.db import Database
from rivergen.errors import NotFound
from rivergen.events import Event, Topic, add_to_outbox
from rivergen.notifications.events import MODEL_TRAINED
from rivergen.services.governance import GovernanceService
from rivergen.services.ml import store
from rivergen.services.ml.schemas import CHAMPION, FeatureSpec

TRAIN_RESULTS = "train.results"
"""``data: {model_id, name, job_id, champion_version, candidates: [{version, params, metrics}]}``
on :attr:`Topic.TRAIN_RESULTS`. ``model.trained`` (on :attr:`Topic.MODELS`, shown to people):
``data: {model_id, name, version, task, metrics, job_id}``, ``metrics`` empty when policies
govern the training dataset for some role (it goes to every member)."""


@dataclass(frozen=True)
class TrainedCandidate:
    params: dict[str, Any]
    metrics: dict[str, Any]
    features: list[FeatureSpec]
    artifact_key: str


async def register_training(
    db: Database,
    *,
    workspace: UUID,
    model: UUID,
    job: UUID,
    dataset: UUID,
    dataset_version: int,
    candidates: list[TrainedCandidate],
    champion: int,
    cancelled: Callable[[], bool] | None = None,
) -> list[int] | None:
    """The version number of each candidate; a job registers once (a retry gets the same).
    None, and nothing registered, if ``cancelled()`` is true once the model's row is locked."""
    governed = await GovernanceService(db).governs_anyone(workspace, [dataset])
    async with db.transaction(str(workspace)) as conn:
        row = await store.get(conn, model, lock=True)
        if row is None:
            raise NotFound(f"model {model} not found", code="model_not_found")
        existing = await store.job_versions(conn, job)
        if existing:
            return [int(r["version"]) for r in existing]
        if cancelled is not None and cancelled():
            return None
        actor = await conn.fetchval("SELECT created_by FROM jobs WHERE id = $1", job) or "system"
        first = await store.next_version(conn, model)
        versions = []
        for i, found in enumerate(candidates):
            await store.insert_version(
                conn,
                model=model,
                version=first + i,
                workspace=workspace,
                task=row["task"],
                target=row["target"],
                features=[f.model_dump() for f in found.features],
                dataset=dataset,
                dataset_version=dataset_version,
                params=found.params,
                metrics=found.metrics,
                artifact_key=found.artifact_key,
                job=job,
                candidate=i,
                actor=actor,
            )
            versions.append(first + i)
        await store.set_alias(conn, model, workspace, CHAMPION, versions[champion])
        best = candidates[champion]
        await add_to_outbox(
            conn,
            Topic.MODELS,
            Event(
                type=MODEL_TRAINED,
                workspace_id=workspace,
                actor=actor,
                data={
                    "model_id": str(model),
                    "name": row["name"],
                    "version": versions[champion],
                    "task": row["task"],
                    "metrics": {} if governed else best.metrics,
                    "job_id": str(job),
                },
            ),
        )
        await add_to_outbox(
            conn,
            Topic.TRAIN_RESULTS,
            Event(
                type=TRAIN_RESULTS,
                workspace_id=workspace,
                actor=actor,
                data={
                    "model_id": str(model),
                    "name": row["name"],
                    "job_id": str(job),
                    "champion_version": versions[champion],
                    "candidates": [
                        {"version": v, "params": c.params, "metrics": c.metrics}
                        for v, c in zip(versions, candidates, strict=True)
                    ],
                },
            ),
        )
    return versions
