"""PageRank by power iteration, the SpMV of each iteration over row blocks (in this process or
as Ray tasks: the blocks' plan, :func:`compute.sparse.blocks.choose_plan`).

Semantics are NetworkX's ``pagerank``: the transition matrix is the adjacency with each row
divided by its weighted out-degree; a dangling node (no out-weight) gives its score to the
``dangling`` distribution (the personalization when None); the teleport goes to the
``personalization`` distribution (uniform when None); iteration stops when the L1 change is
below ``n_nodes * tol``. Parallel edges are summed (as NetworkX does for a multigraph).
Unlike NetworkX, running out of iterations is not an error: ``converged`` is False.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from compute.sparse.blocks import MIN_NNZ_PER_BLOCK, Plan, RowBlocks
from compute.sparse.control import IsCancelled, Progress, Watch
from compute.sparse.products import Rounds
from rivergen.errors import ValidationFailed
from rivergen.metrics import timed_kernel
from rivergen.sparse.arrow import Graph, graph_from_edges

Distribution = Mapping[Any, float] | np.ndarray | None


@dataclass(frozen=True)
class PageRankResult:
    """Scores (summing to 1) of ``nodes[i]`` at ``scores[i]``."""

    scores: np.ndarray
    nodes: np.ndarray
    iterations: int
    converged: bool
    task_nodes: frozenset[str]  # the cluster nodes whose tasks computed it
    plan: str = "in_process"  # where: in_process or tasks (RowBlocks.plan)
    blocks: int = 1

    def as_dict(self) -> dict[Any, float]:
        """``{node id: score}``, as NetworkX returns it."""
        return dict(zip(self.nodes.tolist(), self.scores.tolist(), strict=True))

    def to_arrow(self) -> pa.Table:
        """``(node, score)``, one row per node in node order (for a Parquet result)."""
        return pa.table({"node": self.nodes, "score": self.scores})


def _as_graph(graph: Graph | sp.spmatrix | sp.sparray | pa.Table) -> Graph:
    if isinstance(graph, Graph):
        return graph
    if isinstance(graph, pa.Table):
        return graph_from_edges(graph)
    if sp.issparse(graph):
        matrix = sp.csr_matrix(graph)
        if matrix.shape[0] != matrix.shape[1]:
            raise ValidationFailed(
                f"a graph's adjacency is square, not {matrix.shape}", code="graph_not_square"
            )
        return Graph(matrix, np.arange(matrix.shape[0]))
    raise ValidationFailed(
        f"a graph is a Graph, a square sparse matrix or an edge table, not {type(graph)}",
        code="graph_type",
    )


def _distribution(value: Distribution, graph: Graph, what: str) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        vector = np.zeros(graph.n_nodes)
        positions = np.searchsorted(graph.nodes, list(value.keys()))
        known = positions < graph.n_nodes
        known[known] = graph.nodes[positions[known]] == np.array(list(value.keys()))[known]
        vector[positions[known]] = np.array(list(value.values()), dtype=np.float64)[known]
    else:
        vector = np.asarray(value, dtype=np.float64)
        if vector.shape != (graph.n_nodes,):
            raise ValidationFailed(
                f"{what} needs one weight per node ({graph.n_nodes}), not {vector.shape}",
                code="pagerank_distribution_shape",
            )
    total = float(vector.sum())
    if np.any(vector < 0) or not total > 0 or not math.isfinite(total):
        raise ValidationFailed(
            f"{what} must be non-negative with a positive sum",
            code="pagerank_distribution_invalid",
            details={"what": what},
        )
    return vector / total


def _check_arguments(damping: float, tol: float, max_iter: int) -> None:
    if not 0 <= damping < 1:
        raise ValidationFailed(f"damping must be in [0, 1), not {damping}", code="pagerank_damping")
    if not tol > 0 or max_iter < 1:
        raise ValidationFailed("tol must be > 0 and max_iter >= 1", code="pagerank_stopping")


def pagerank(
    graph: Graph | sp.spmatrix | sp.sparray | pa.Table,
    *,
    damping: float = 0.85,
    personalization: Distribution = None,
    dangling: Distribution = None,
    tol: float = 1e-6,
    max_iter: int = 100,
    cpus: float | None = None,
    min_nnz_per_block: int = MIN_NNZ_PER_BLOCK,
    plan: Plan | None = None,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> PageRankResult:
    """PageRank of ``graph`` (a :class:`Graph`, a square adjacency with ``[i, j]`` the weight of
    i -> j, or an edge table ``(src, dst[, weight])``). Distributions are a ``{node id: weight}``
    mapping (missing nodes weigh 0) or a vector in node order; they are normalized. ``plan``:
    where the products run (:func:`compute.sparse.blocks.choose_plan`'s choice by default).

    The transposed transition matrix is cut once as row blocks; each iteration multiplies the
    score vector by every block (a thread each in process; a task each, the vector put once,
    on the tasks plan)."""
    _check_arguments(damping, tol, max_iter)
    g = _as_graph(graph)
    n = g.n_nodes
    if n == 0:
        return PageRankResult(np.zeros(0), g.nodes, 0, True, frozenset())
    out_weight = np.asarray(g.matrix.sum(axis=1)).ravel()
    inverse = np.divide(1.0, out_weight, out=np.zeros(n), where=out_weight != 0)
    is_dangling = out_weight == 0
    teleport = _distribution(personalization, g, "personalization")
    p = teleport if teleport is not None else np.full(n, 1.0 / n)
    given = _distribution(dangling, g, "dangling")
    dangling_weights = given if given is not None else p
    # x @ (D^-1 A) == A.T @ (x * D^-1): the transpose is blocked, the scaling stays a vector op
    with timed_kernel("pagerank", int(g.matrix.nnz)):
        blocks = RowBlocks.put(
            g.matrix.T.tocsr(), cpus=cpus, min_nnz_per_block=min_nnz_per_block, plan=plan
        )
        rounds = Rounds(blocks)
        watch = Watch(progress, cancelled)
        x = np.full(n, 1.0 / n)
        target = n * tol
        first_err: float | None = None
        for iteration in range(1, max_iter + 1):
            watch.check()
            spread = rounds.stacked(x * inverse)
            new = damping * (spread + x[is_dangling].sum() * dangling_weights) + (1 - damping) * p
            err = float(np.abs(new - x).sum())
            x = new
            if err < target:
                watch.report(1.0, f"converged after {iteration} iterations")
                return PageRankResult(
                    x, g.nodes, iteration, True, frozenset(rounds.nodes), blocks.plan, len(blocks)
                )
            first_err = first_err or err
            watch.report(
                _fraction(iteration, max_iter, first_err, err, target),
                f"iteration {iteration}: change {err:.3g}",
            )
        return PageRankResult(
            x, g.nodes, max_iter, False, frozenset(rounds.nodes), blocks.plan, len(blocks)
        )


def _fraction(iteration: int, max_iter: int, first: float, err: float, target: float) -> float:
    """Progress: the larger of iterations used and orders of magnitude of the error gone."""
    by_error = 0.0
    if first > target and err > 0:
        by_error = math.log(first / err) / math.log(first / target)
    return min(0.99, max(iteration / max_iter, by_error))
