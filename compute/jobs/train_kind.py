"""The ``train`` job kind: sparse features of a dataset version, a champion GLM (L2, C=1) and
its challengers fitted with :func:`compute.sparse.glm.fit_glm` (Ray tasks over row blocks),
compared on a seeded held-out split; the artifacts go to object storage and the versions to
the model registry, the best as the ``champion`` alias.

Started through ``POST /api/v1/models`` (which creates the model first); the result dataset
has one row per candidate with its version, penalty, C and held-out metrics.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from compute.sparse.blocks import kernel_plan
from compute.sparse.control import Cancelled
from compute.sparse.glm import Family, GLMResult, fit_glm
from compute.sparse.text import tfidf
from rivergen.clients import require
from rivergen.db import Database
from rivergen.errors import ValidationFailed
from rivergen.jobs.kinds import Catalog, JobContext, JobKind, KindOutput
from rivergen.objectstore import connect_object_store
from rivergen.services.ml.artifact import ModelArtifact, artifact_key
from rivergen.services.ml.features import FeatureTransformer, infer_specs, split_indices
from rivergen.services.ml.metrics import better, classification_metrics, regression_metrics
from rivergen.services.ml.registry import TrainedCandidate, register_training
from rivergen.services.ml.schemas import Candidate, FeatureSpec, TrainRequest
from rivergen.settings import Settings, load_settings
from rivergen.sparse.arrow import dense_column

_NUMERIC = (
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float",
    "double",
    "halffloat",
    "bool",
)
MAX_ITER = 500
DEFAULT_CHALLENGERS = [Candidate(penalty="l1", C=1.0)]


class TrainParams(TrainRequest):
    model_id: UUID


@dataclass
class _Fitted:
    candidate: Candidate
    specs: list[FeatureSpec]
    artifact: ModelArtifact
    metrics: dict[str, Any]
    result: GLMResult


class TrainKind(JobKind[TrainParams]):
    """Fits the champion candidate and its challengers; see the module docstring."""

    name = "train"
    params_model = TrainParams

    def __init__(self, settings: Settings | None = None) -> None:
        # The supervisor builds its kinds without settings: read them (the process's
        # environment, as the supervisor's own) when a job first needs them.
        self._settings = settings

    async def validate(self, params: TrainParams, catalog: Catalog) -> TrainParams:
        found = await catalog.dataset(params.dataset, params.version)
        types = found.schema_types
        named = [params.target, *(f.column for f in params.features or [])]
        for candidate in params.challengers or []:
            named += [f.column for f in candidate.features or []]
        for column in named:
            if column not in types:
                raise ValidationFailed(
                    f"the dataset has no column {column!r} (it has {', '.join(types)})",
                    code="column_not_found",
                    details={"column": column},
                )
        if params.task == "regression" and types[params.target] not in _NUMERIC:
            raise ValidationFailed(
                f"a regression target must be numeric; {params.target!r} is {types[params.target]}",
                code="column_type_mismatch",
                details={"column": params.target, "type": types[params.target]},
            )
        if found.row_count < 10:
            raise ValidationFailed("training needs at least 10 rows", code="too_few_rows")
        return params.model_copy(update={"version": found.version})

    def inputs(self, params: TrainParams) -> list[tuple[UUID, int]]:
        assert params.version is not None
        return [(params.dataset, params.version)]

    async def run(self, ctx: JobContext[TrainParams]) -> Any:
        p = ctx.params
        assert p.version is not None
        table: pa.Table = await ctx.load(p.dataset, p.version)
        # Progress goes to every member of the workspace: no count of the (governed) rows.
        ctx.progress(5, "rows loaded")
        try:
            fitted = await asyncio.to_thread(_fit_all, ctx, table)
        except Cancelled:
            return None
        if ctx.cancelled():
            return None
        ctx.progress(90, "registering the versions")
        champion = 0
        for i, candidate in enumerate(fitted):
            if better(p.task, candidate.metrics, fitted[champion].metrics if i else None):
                champion = i
        versions = await self._register(ctx, fitted, champion)
        if versions is None:
            return None
        rows = [
            {
                "version": v,
                "champion": i == champion,
                "penalty": f.candidate.penalty,
                "C": f.candidate.C,
                "features": len(f.artifact.coef),
                "iterations": f.result.iterations,
                "converged": f.result.converged,
                "metrics": json.dumps(f.metrics),
            }
            for i, (v, f) in enumerate(zip(versions, fitted, strict=True))
        ]
        return KindOutput(
            pa.Table.from_pylist(rows),
            {
                "model_id": str(p.model_id),
                "versions": versions,
                "champion": versions[champion],
                "metrics": fitted[champion].metrics,
            },
        )

    async def _register(
        self, ctx: JobContext[TrainParams], fitted: list[_Fitted], champion: int
    ) -> list[int] | None:
        p = ctx.params
        assert p.version is not None
        settings = self._settings or load_settings()
        keys = [
            artifact_key(ctx.workspace_id, p.model_id, ctx.job_id, i) for i in range(len(fitted))
        ]
        objects = connect_object_store(settings)
        try:
            for key, found in zip(keys, fitted, strict=True):
                await objects.put(key, found.artifact.model_dump_json().encode())
        finally:
            await objects.close()
        postgres = settings.postgres.model_copy(update={"pool_min_size": 1, "pool_max_size": 1})
        db = Database(require(postgres.dsn, "postgres", "RIVERGEN_POSTGRES__DSN"), postgres)
        await db.open()
        try:
            return await register_training(
                db,
                workspace=ctx.workspace_id,
                model=p.model_id,
                job=ctx.job_id,
                dataset=p.dataset,
                dataset_version=p.version,
                champion=champion,
                cancelled=ctx.cancelled,
                candidates=[
                    TrainedCandidate(
                        params={
                            "penalty": f.candidate.penalty,
                            "C": f.candidate.C,
                            "family": f.artifact.family,
                            "test_fraction": p.test_fraction,
                            "seed": p.seed,
                            "iterations": f.result.iterations,
                            "converged": f.result.converged,
                        },
                        metrics=f.metrics,
                        features=f.specs,
                        artifact_key=key,
                    )
                    for key, f in zip(keys, fitted, strict=True)
                ],
            )
        finally:
            await db.close()


def _labels(table: pa.Table, p: TrainParams) -> tuple[np.ndarray, list[Any] | None]:
    """The target as 0/1 (classification: 1 is the larger of its two values) or as numbers."""
    column = table.column(p.target)
    if p.task == "regression":
        return np.asarray(dense_column(pc.cast(column, pa.float64())), dtype=np.float64), None
    values = column.to_pylist()
    labels = sorted(set(values))
    if len(labels) != 2:
        raise ValidationFailed(
            f"classification needs a target with two values; {p.target!r} has {len(labels)}",
            code="target_not_binary",
            details={"values": [str(v) for v in labels[:10]]},
        )
    return np.array([v == labels[1] for v in values], dtype=np.float64), labels


def _fit_all(ctx: JobContext[TrainParams], table: pa.Table) -> list[_Fitted]:
    p = ctx.params
    table = table.filter(pc.is_valid(table.column(p.target)))
    y, labels = _labels(table, p)
    train, test = split_indices(
        table.num_rows,
        p.test_fraction,
        seed=p.seed,
        strata=y if p.task == "classification" else None,
    )
    if len(test) == 0 or len(train) == 0:
        raise ValidationFailed("too few rows for a held-out split", code="too_few_rows")
    train_table, test_table = table.take(pa.array(train)), table.take(pa.array(test))
    specs = p.features or infer_specs(train_table, p.target)
    candidates = [
        Candidate(penalty="l2", C=1.0),
        *(DEFAULT_CHALLENGERS if p.challengers is None else p.challengers),
    ]
    transformers: dict[str, tuple[FeatureTransformer, Any, Any]] = {}
    fitted = []
    share = 80 / len(candidates)
    for i, candidate in enumerate(candidates):
        if ctx.cancelled():
            raise Cancelled("training was cancelled")
        own = candidate.features or specs
        key = json.dumps([f.model_dump() for f in own])
        if key not in transformers:
            transformer = FeatureTransformer.fit(train_table, own, fit_text=tfidf)
            transformers[key] = (
                transformer,
                transformer.transform(train_table),
                transformer.transform(test_table),
            )
        transformer, x_train, x_test = transformers[key]
        family: Family = "logistic" if p.task == "classification" else "linear"
        what = f"candidate {i + 1} of {len(candidates)}"

        def progress(
            fraction: float, message: str, base: float = 10 + share * i, what: str = what
        ) -> None:
            # Progress goes to every member: the iteration, not the objective (a figure of
            # the rows, which policies may hide from some of them).
            ctx.progress(base + share * fraction, f"{what}: {message.split(':')[0]}")

        result = fit_glm(
            x_train,
            y[train],
            family=family,
            penalty=candidate.penalty,
            C=candidate.C,
            max_iter=MAX_ITER,
            min_nnz_per_block=ctx.min_nnz_per_block,
            plan=kernel_plan(ctx.settings),
            progress=progress,
            cancelled=ctx.cancelled,
        )
        predicted = result.predict(x_test)
        metrics = (
            classification_metrics(y[test], predicted)
            if family == "logistic"
            else regression_metrics(y[test], predicted)
        )
        artifact = ModelArtifact(
            task=p.task,
            family=family,
            penalty=candidate.penalty,
            C=candidate.C,
            coef=[float(v) for v in result.coef],
            intercept=result.intercept,
            transformer=transformer.state(),
            labels=labels,
            target=p.target,
        )
        fitted.append(_Fitted(candidate, list(own), artifact, metrics, result))
    return fitted
