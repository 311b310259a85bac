"""The Machine Learning service: models of a workspace, trained as `train` jobs, their versions
and aliases, and which versions are servable.

Implements :class:`~rivergen.services.ml.schemas.ModelLookup`. Another workspace's model is
404 ``model_not_found`` (row-level security hides it).
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from uuid import UUID

from rivergen.accounts.principal import RequestContext
from rivergen.db import Database
from rivergen.errors import Conflict, NotFound, RiverGenError
from rivergen.jobs import JobService
from rivergen.jobs.schemas import JobCreate
from rivergen.pagination import decode_cursor, encode_cursor
from rivergen.services.governance import GovernanceService, check_columns
from rivergen.services.governance.evaluation import shows_more
from rivergen.services.governance.service import load_record
from rivergen.services.ml import store
from rivergen.services.ml.schemas import (
    CHAMPION,
    ModelDetail,
    ModelPage,
    ModelSummary,
    ModelVersionView,
    TrainAccepted,
    TrainRequest,
)

TRAIN_KIND = "train"


def model_not_found(model: UUID) -> NotFound:
    return NotFound(f"model {model} not found", code="model_not_found")


class ModelService:
    def __init__(self, db: Database, jobs: JobService, governance: GovernanceService) -> None:
        self._db = db
        self._jobs = jobs
        self._governance = governance

    async def train(self, context: RequestContext, request: TrainRequest) -> TrainAccepted:
        """Start a `train` job for the model ``request.name`` (created if new). Checked first:
        the dataset and columns (422), the caller's policies (403 ``column_denied``), a model
        of that name with another task or target (409 ``model_definition_conflict``)."""
        workspace = context.require_workspace()
        governed = await self._governance.governed(context, [request.dataset])
        named = {request.target, *(f.column for f in request.features or [])}
        for candidate in request.challengers or []:
            named |= {f.column for f in candidate.features or []}
        for item in governed.values():
            check_columns(item, named)
        async with self._db.transaction(str(workspace)) as conn:
            fresh = uuid.uuid4()
            row = await store.insert_model(
                conn, fresh, workspace, request.name, request.task, request.target, context.actor
            )
        if (row["task"], row["target"]) != (request.task, request.target):
            raise Conflict(
                f"model {request.name!r} predicts {row['target']!r} ({row['task']})",
                code="model_definition_conflict",
                details={"task": row["task"], "target": row["target"]},
            )
        params = request.model_dump(mode="json") | {"model_id": str(row["id"])}
        try:
            accepted = await self._jobs.submit(
                context,
                JobCreate(
                    kind=TRAIN_KIND,
                    params=params,
                    name=f"train {request.name}"[:200],
                ),
            )
        except RiverGenError:
            if row["id"] == fresh:
                async with self._db.transaction(str(workspace)) as conn:
                    await store.delete_if_empty(conn, fresh)
            raise
        return TrainAccepted(model_id=row["id"], job_id=accepted.job_id, name=row["name"])

    async def list_models(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> ModelPage:
        after = decode_cursor(cursor)
        async with self._db.transaction(str(context.require_workspace())) as conn:
            rows = await store.page(conn, after, limit)
        return ModelPage(
            items=[_summary(r) for r in rows[:limit]],
            next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
        )

    async def get(self, context: RequestContext, model: UUID) -> ModelDetail:
        async with self._db.transaction(str(context.require_workspace())) as conn:
            row = await store.get(conn, model)
            if row is None:
                raise model_not_found(model)
            versions = await store.versions(conn, model)
            aliases = await store.aliases(conn, model)
        return ModelDetail(
            **_summary(row).model_dump(),
            versions=await self._shown(context, versions),
            aliases=aliases,
        )

    async def version(
        self, context: RequestContext, model_id: UUID, version: int | str | None = None
    ) -> ModelVersionView:
        """A version by number or alias (default: the champion); 404 ``model_not_found`` when
        the model or that version does not exist (``details.version`` names the version)."""
        row = await self.version_record(context, model_id, version)
        return (await self._shown(context, [row]))[0]

    async def check_access(self, context: RequestContext, row: Any) -> None:
        """403 ``derived_from_governed_data`` when the caller's policies hide more of the
        version's training dataset than its trainer's did (rows, or a feature or the target):
        the model is an aggregate over what they may not see (its scores and metrics too)."""
        await self._governance.check_derived(context, *_trained_under(row))

    async def _shown(self, context: RequestContext, rows: list[Any]) -> list[ModelVersionView]:
        """The versions as the caller may see them: the metrics left out of those trained on
        more than the caller's policies let them see (:meth:`check_access`)."""
        reader = await self._governance.governed(context, {r["dataset_id"] for r in rows})
        views = []
        for row in rows:
            view, dataset = _version(row), row["dataset_id"]
            trainer, columns = _trained_under(row)
            if shows_more(reader[dataset], trainer[dataset], columns):
                view = view.model_copy(update={"metrics": {}, "data_withheld": True})
            views.append(view)
        return views

    async def version_record(
        self, context: RequestContext, model: UUID, version: int | str | None
    ) -> Any:
        """The version's row (with ``artifact_key`` and ``deployed``)."""
        async with self._db.transaction(str(context.require_workspace())) as conn:
            return await _resolved(conn, model, version)

    async def deploy(
        self, context: RequestContext, model: UUID, version: int | str | None
    ) -> ModelVersionView:
        """Make a version servable (default: the champion)."""
        async with self._db.transaction(str(context.require_workspace())) as conn:
            row = await _resolved(conn, model, version)
            await store.set_deployed(conn, model, row["version"])
            row = await store.version_row(conn, model, row["version"])
        return (await self._shown(context, [row]))[0]


async def _resolved(conn: Any, model: UUID, version: int | str | None) -> Any:
    if await store.get(conn, model) is None:
        raise model_not_found(model)
    wanted = CHAMPION if version is None else version
    number = await store.resolve(conn, model, wanted)
    row = await store.version_row(conn, model, number) if number is not None else None
    if row is None:
        raise NotFound(
            f"model {model} has no version {wanted!r}",
            code="model_not_found",
            details={"version": wanted},
        )
    return row


def _trained_under(row: Any) -> tuple[dict[UUID, Any], set[str]]:
    """The trainer's governance of a version's training dataset, and the columns the version
    learnt from (its features and target)."""
    dataset = row["dataset_id"]
    columns = {row["target"], *(f["column"] for f in _json(row["features"]))}
    return load_record(row["governance"], [dataset]), columns


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _summary(row: Any) -> ModelSummary:
    return ModelSummary(
        id=row["id"],
        name=row["name"],
        task=row["task"],
        target=row["target"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        latest_version=row["latest_version"],
        champion=row["champion"],
    )


def _version(row: Any) -> ModelVersionView:
    return ModelVersionView(
        model_id=row["model_id"],
        name=row["name"],
        version=row["version"],
        task=row["task"],
        target=row["target"],
        features=_json(row["features"]),
        dataset_id=row["dataset_id"],
        dataset_version=row["dataset_version"],
        metrics=_json(row["metrics"]),
        params=_json(row["params"]),
        aliases=list(row["aliases"]),
        deployed=row["deployed"],
        created_at=row["created_at"],
    )
