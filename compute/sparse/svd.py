"""Truncated SVD: ARPACK (SciPy's ``eigsh``) on the Gram operator, whose products run as Ray
tasks over row blocks.

This is SciPy ``svds``'s own method (``solver="arpack"``): the top eigenvectors of the smaller
Gram matrix (``A.T A`` or ``A A.T``), then a dense SVD of ``A`` times them, so the singular values
come from ``A`` itself, not from square roots of eigenvalues. The difference is only where the
products run: for ``A.T A`` each block's task computes ``B.T (B v)`` and the driver sums them,
one round per ARPACK step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh

from compute.sparse.blocks import RowBlocks
from compute.sparse.control import IsCancelled, Progress, Watch
from compute.sparse.products import Rounds
from rivergen.errors import ValidationFailed
from rivergen.metrics import timed_kernel


@dataclass(frozen=True)
class SVDResult:
    """``A ~ u @ diag(s) @ vt`` with ``s`` in descending order."""

    u: np.ndarray  # (n_rows, k)
    s: np.ndarray  # (k,)
    vt: np.ndarray  # (k, n_cols)
    products: int  # Ray rounds (one task per block each)
    task_nodes: frozenset[str]

    def to_arrow(self) -> dict[str, pa.Table]:
        """The factors as tables (for Parquet results): ``singular_values`` ``(component,
        value)``, ``u`` ``(row, vector)`` and ``vt`` ``(component, vector)``."""
        k = len(self.s)
        return {
            "singular_values": pa.table({"component": np.arange(k), "value": self.s}),
            "u": pa.table({"row": np.arange(self.u.shape[0]), "vector": list(self.u)}),
            "vt": pa.table({"component": np.arange(k), "vector": list(self.vt)}),
        }


def _gram_operator(rounds: Rounds, watch: Watch, k: int) -> LinearOperator:
    rows, cols = rounds.blocks.shape
    size = min(rows, cols)
    expected = max(20, 10 * k)  # ARPACK steps: a guess that only paces the progress report

    def apply(v: np.ndarray) -> np.ndarray:
        watch.check()
        # A.T A v in one round; A A.T v needs the sum of A.T v first
        out = rounds.gram(v) if rows >= cols else rounds.stacked(rounds.summed(v))
        watch.report(0.95 * rounds.count / (rounds.count + expected), f"{rounds.count} products")
        return out

    return LinearOperator((size, size), matvec=apply, matmat=apply, dtype=np.float64)


def truncated_svd(
    matrix: RowBlocks | sp.spmatrix | sp.sparray,
    k: int,
    *,
    tol: float = 0.0,
    max_iter: int | None = None,
    seed: int | None = 0,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> SVDResult:
    """The ``k`` largest singular triplets of the matrix ``blocks`` holds (``0 < k <
    min(shape)``), of row blocks already in the object store or of a sparse matrix (put here).
    ``tol=0`` runs ARPACK to machine precision, as ``svds`` does by default."""
    blocks = matrix if isinstance(matrix, RowBlocks) else RowBlocks.put(sp.csr_matrix(matrix))
    rows, cols = blocks.shape
    if not 0 < k < min(rows, cols):
        raise ValidationFailed(
            f"k must satisfy 0 < k < min(shape) = {min(rows, cols)}, not {k}",
            code="svd_rank",
            details={"k": k, "shape": [rows, cols]},
        )
    if tol < 0 or not math.isfinite(tol):
        raise ValidationFailed(f"tol must be finite and >= 0, not {tol}", code="svd_tol")
    with timed_kernel("truncated_svd", blocks.nnz):
        watch = Watch(progress, cancelled)
        rounds = Rounds(blocks)
        v0 = np.random.default_rng(seed).standard_normal(min(rows, cols))
        _, eigvec = eigsh(
            _gram_operator(rounds, watch, k), k=k, tol=tol**2, maxiter=max_iter, which="LM", v0=v0
        )
        eigvec, _ = np.linalg.qr(eigvec)  # ARPACK's vectors are not exactly orthonormal
        watch.check()
        if rows >= cols:
            u, s, vh = scipy.linalg.svd(rounds.stacked(eigvec), full_matrices=False)
            vt = vh @ eigvec.T
        else:
            w, s, vh = scipy.linalg.svd(rounds.summed(eigvec), full_matrices=False)
            u, vt = eigvec @ vh.T, w.T
        watch.report(1.0, f"svd done after {rounds.count} products")
        return SVDResult(u, s, vt, rounds.count, frozenset(rounds.nodes))
