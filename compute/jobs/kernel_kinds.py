"""Job kinds over the Sparse Native kernels: PageRank of an edge table and text similarity."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from compute.sparse.blocks import kernel_plan
from compute.sparse.control import Cancelled
from compute.sparse.pagerank import pagerank
from compute.sparse.text import cosine_top_k, tfidf
from rivergen.errors import ValidationFailed
from rivergen.jobs.kinds import Catalog, JobContext, JobKind, KindOutput
from rivergen.jobs.schemas import DatasetInput
from rivergen.sparse.arrow import graph_from_edges

_INTEGER = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
_NODE_TYPES = (*_INTEGER, "string", "large_string")
_NUMERIC = (*_INTEGER, "float", "double", "halffloat")


def _column(found: DatasetInput, name: str, allowed: tuple[str, ...], what: str) -> None:
    """422 unless ``name`` is a column of one of the ``allowed`` Arrow types."""
    types = found.schema_types
    if name not in types:
        raise ValidationFailed(
            f"the dataset has no column {name!r} (it has {', '.join(types)})",
            code="column_not_found",
            details={"column": name},
        )
    if types[name] not in allowed and not types[name].startswith("dictionary"):
        raise ValidationFailed(
            f"column {name!r} is {types[name]}: {what}",
            code="column_type_mismatch",
            details={"column": name, "type": types[name]},
        )


class PageRankParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: UUID = Field(description="An edge table: one row per edge.")
    version: int | None = Field(None, ge=1, description="Default: the current version.")
    src: str = Field("src", description="Column of the edge's source node (integer or text).")
    dst: str = Field("dst", description="Column of the edge's target node (integer or text).")
    weight: str | None = Field(None, description="Numeric column of edge weights (default 1).")
    damping: float = Field(0.85, gt=0, lt=1, description="Probability of following an edge.")
    tol: float = Field(1e-6, gt=0, le=1e-2, description="Stop when the L1 change per node < tol.")
    max_iter: int = Field(100, ge=1, le=10_000)
    personalization: dict[str, float] | None = Field(
        None, description="Teleport weights by node id (as text); default uniform."
    )


class PageRankKind(JobKind[PageRankParams]):
    """PageRank (NetworkX semantics: dangling nodes follow the personalization) of an edge
    table, as Ray tasks over row blocks; the result is one row per node: `node`, `score`."""

    name = "pagerank"
    params_model = PageRankParams

    async def validate(self, params: PageRankParams, catalog: Catalog) -> PageRankParams:
        found = await catalog.dataset(params.dataset, params.version)
        if found.row_count == 0:
            raise ValidationFailed("the graph has no edges", code="graph_has_no_edges")
        _column(found, params.src, _NODE_TYPES, "node ids are integers or text")
        _column(found, params.dst, _NODE_TYPES, "node ids are integers or text")
        if params.weight is not None:
            _column(found, params.weight, _NUMERIC, "weights must be numeric")
        return params.model_copy(update={"version": found.version})

    def inputs(self, params: PageRankParams) -> list[tuple[UUID, int]]:
        assert params.version is not None
        return [(params.dataset, params.version)]

    async def run(self, ctx: JobContext[PageRankParams]) -> Any:
        p = ctx.params
        assert p.version is not None
        columns = [p.src, p.dst, *([p.weight] if p.weight else [])]
        edges: pa.Table = await ctx.load(p.dataset, p.version, columns)
        ctx.progress(5, "edges loaded")  # to every member: no count

        def rank() -> KindOutput | None:
            graph = graph_from_edges(edges, p.src, p.dst, p.weight)
            personalization: dict[Any, float] | None = None
            if p.personalization:
                ids = graph.nodes
                if ids.dtype.kind in "iu":
                    personalization = {
                        int(k): v for k, v in p.personalization.items() if k.lstrip("-").isdigit()
                    }
                else:
                    personalization = dict(p.personalization)
            try:
                result = pagerank(
                    graph,
                    damping=p.damping,
                    tol=p.tol,
                    max_iter=p.max_iter,
                    personalization=personalization,
                    min_nnz_per_block=ctx.min_nnz_per_block,
                    plan=kernel_plan(ctx.settings),
                    progress=lambda f, m: ctx.progress(5 + 85 * f, m),
                    cancelled=ctx.cancelled,
                )
            except Cancelled:
                return None
            return KindOutput(
                result.to_arrow(),
                {
                    "nodes": int(graph.n_nodes),
                    "edges": int(graph.matrix.nnz),
                    "iterations": result.iterations,
                    "converged": result.converged,
                    "task_nodes": len(result.task_nodes),
                    "plan": result.plan,
                    "blocks": result.blocks,
                },
            )

        return await asyncio.to_thread(rank)


class SimilarityParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: UUID
    version: int | None = Field(None, ge=1, description="Default: the current version.")
    text: str = Field(description="The text column compared (TF-IDF, cosine similarity).")
    id: str | None = Field(None, description="Column naming each row in the result.")
    k: int = Field(5, ge=1, le=100, description="Most similar rows kept per row.")


class SimilarityKind(JobKind[SimilarityParams]):
    """For every row, its `k` most similar other rows by the TF-IDF cosine of a text column;
    the result is one row per pair: `row`, `neighbor`, `rank`, `score`."""

    name = "similarity"
    params_model = SimilarityParams

    async def validate(self, params: SimilarityParams, catalog: Catalog) -> SimilarityParams:
        found = await catalog.dataset(params.dataset, params.version)
        _column(found, params.text, ("string", "large_string"), "it must hold text")
        if params.id is not None:
            _column(found, params.id, (*_NODE_TYPES,), "ids are integers or text")
        if found.row_count < 2:
            raise ValidationFailed("similarity needs at least two rows", code="too_few_rows")
        return params.model_copy(update={"version": found.version})

    def inputs(self, params: SimilarityParams) -> list[tuple[UUID, int]]:
        assert params.version is not None
        return [(params.dataset, params.version)]

    async def run(self, ctx: JobContext[SimilarityParams]) -> Any:
        p = ctx.params
        assert p.version is not None
        table: pa.Table = await ctx.load(p.dataset, p.version, [p.text, *([p.id] if p.id else [])])

        def similar() -> KindOutput | None:
            try:
                features = tfidf(
                    table.column(p.text),
                    progress=lambda f, m: ctx.progress(5 + 40 * f, m),
                    cancelled=ctx.cancelled,
                )
                top = cosine_top_k(
                    features.matrix,
                    p.k,
                    exclude_self=True,
                    min_nnz_per_block=ctx.min_nnz_per_block,
                    progress=lambda f, m: ctx.progress(45 + 45 * f, m),
                    cancelled=ctx.cancelled,
                )
            except Cancelled:
                return None
            rows, k = top.indices.shape
            names = (
                table.column(p.id).combine_chunks()
                if p.id
                else pa.array(np.arange(rows, dtype=np.int64))
            )
            left = np.repeat(np.arange(rows), k)
            return KindOutput(
                pa.table(
                    {
                        "row": names.take(pa.array(left)),
                        "neighbor": names.take(pa.array(top.indices.ravel())),
                        "rank": np.tile(np.arange(1, k + 1, dtype=np.int32), rows),
                        "score": top.scores.ravel(),
                    }
                ),
                {"rows": rows, "k": k, "vocabulary": len(features.vocabulary)},
            )

        return await asyncio.to_thread(similar)
