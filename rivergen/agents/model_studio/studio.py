"""Model Studio: versions by number or alias, and scoring rows with a deployed version."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any
from uuid import UUID

from rivergen.accounts.principal import RequestContext
from rivergen.errors import Conflict
from rivergen.objectstore import ObjectStore
from rivergen.services.governance import GovernanceService
from rivergen.services.ml.artifact import LoadedModel, ModelArtifact
from rivergen.services.ml.schemas import ModelVersionView, Prediction
from rivergen.services.ml.service import ModelService

DEFAULT_CACHE_SIZE = 32


class ModelStudio:
    """The :class:`~rivergen.services.ml.schemas.ModelLookup` and
    :class:`~rivergen.services.ml.schemas.Predictor` of the platform.

    An artifact is read from object storage once per process: loaded models are kept in an
    LRU cache by ``(model, version)`` (a version never changes once trained)."""

    def __init__(
        self,
        models: ModelService,
        objects: ObjectStore,
        governance: GovernanceService,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._models = models
        self._objects = objects
        self._governance = governance
        self._cache: OrderedDict[tuple[UUID, int], LoadedModel] = OrderedDict()
        self._cache_size = cache_size
        self._loading: dict[tuple[UUID, int], asyncio.Future[LoadedModel]] = {}

    async def version(
        self, context: RequestContext, model_id: UUID, version: int | str | None = None
    ) -> ModelVersionView:
        return await self._models.version(context, model_id, version)

    async def predict(
        self,
        context: RequestContext,
        model_id: UUID,
        rows: list[dict[str, Any]],
        *,
        version: int | str | None = None,
        explain: bool = False,
    ) -> list[Prediction]:
        """Score ``rows`` (JSON objects with the model's input columns) with a deployed
        version (default: the champion): 404 ``model_not_found`` (no such model or version),
        403 ``derived_from_governed_data`` (the caller's policies hide more of the training
        data than the trainer's did), 409 ``model_not_deployed``, 422
        ``row_missing_column``/``row_value_invalid``.
        Contributions name a column the caller's policies mask or deny without its value."""
        row = await self._models.version_record(context, model_id, version)
        await self._models.check_access(context, row)
        if not row["deployed"]:
            raise Conflict(
                f"version {row['version']} of model {model_id} is not deployed",
                code="model_not_deployed",
                details={"version": row["version"]},
            )
        loaded = await self._load(model_id, int(row["version"]), row["artifact_key"])
        hidden: set[str] = set()
        if explain:
            dataset = row["dataset_id"]
            governed = (await self._governance.governed(context, [dataset]))[dataset]
            hidden = set(governed.masked) | set(governed.denied_columns)
            if governed.denied:
                hidden |= set(loaded.transformer.columns)
        return loaded.predict(model_id, int(row["version"]), rows, explain=explain, hidden=hidden)

    async def _load(self, model: UUID, version: int, key: str) -> LoadedModel:
        found = self._cache.get((model, version))
        if found is not None:
            self._cache.move_to_end((model, version))
            return found
        pending = self._loading.get((model, version))
        if pending is None:  # one read per version, however many callers wait for it
            pending = asyncio.ensure_future(self._read(key))
            self._loading[(model, version)] = pending
        try:
            loaded = await asyncio.shield(pending)
        finally:
            self._loading.pop((model, version), None)
        self._cache[(model, version)] = loaded
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return loaded

    async def _read(self, key: str) -> LoadedModel:
        artifact = ModelArtifact.model_validate_json(await self._objects.get(key))
        return await asyncio.to_thread(LoadedModel, artifact)

    @property
    def cached(self) -> list[tuple[UUID, int]]:
        """The versions loaded in this process, least recently used first."""
        return list(self._cache)
