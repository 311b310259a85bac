"""Sparse logistic regression (L2) through `fit_glm` against scikit-learn's `lbfgs` on the same CSR.

    python -m bench.glm [--rows N] [--cols N] [--nnz-per-row N] [--runs N]   (prints JSON lines)

A seeded problem: uniformly placed nonzeros with uniform values, labels drawn from a logistic
model with sparse true weights. Both sides minimize the same objective with L-BFGS-B at the
same tolerance (scikit-learn's `lbfgs` runs SciPy's L-BFGS-B on the objective divided by
`C * rows`, and so does the platform): the platform's loss and gradient come from its row
blocks on the plan `fit_glm` chooses (on this one-node cluster, in process, a thread per
block; cut inside the timed call), scikit-learn computes them in-process. Ray is started and
its workers warmed up before timing. Runs alternate; medians are reported. Both objectives are
computed by the same function.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import ray
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from compute.sparse.glm import fit_glm, glm_objective


def make_problem(
    rows: int, cols: int, nnz_per_row: int, seed: int = 7
) -> tuple[sp.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    nnz = rows * nnz_per_row
    matrix = sp.csr_matrix(
        (rng.random(nnz), rng.integers(0, cols, nnz), np.arange(0, nnz + 1, nnz_per_row)),
        shape=(rows, cols),
    )
    matrix.sum_duplicates()
    truth = rng.normal(size=cols) * (rng.random(cols) < 0.2)
    z = matrix @ truth - 0.1
    labels = (rng.random(rows) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    return matrix, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--cols", type=int, default=50_000)
    parser.add_argument("--nnz-per-row", type=int, default=20)
    parser.add_argument("--C", type=float, default=0.1)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    matrix, labels = make_problem(args.rows, args.cols, args.nnz_per_row)
    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False)
    try:
        fit_glm(matrix[:20_000], labels[:20_000], C=args.C, max_iter=5)  # starts the workers
        ours_s, theirs_s = [], []
        for _ in range(args.runs):
            started = time.perf_counter()
            ours = fit_glm(matrix, labels, C=args.C, tol=args.tol, max_iter=10_000)
            ours_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            theirs = LogisticRegression(C=args.C, tol=args.tol, max_iter=10_000)
            theirs.fit(matrix, labels)
            theirs_s.append(time.perf_counter() - started)
    finally:
        ray.shutdown()
    theirs_objective = glm_objective(
        matrix,
        labels,
        theirs.coef_.ravel(),
        float(theirs.intercept_[0]),
        family="logistic",
        penalty="l2",
        C=args.C,
    )
    print(
        json.dumps(
            {
                "rows": args.rows,
                "cols": args.cols,
                "nnz": int(matrix.nnz),
                "C": args.C,
                "tol": args.tol,
                "runs": args.runs,
                "blocks": ours.blocks,
                "plan": ours.plan,
                "ours_s": statistics.median(ours_s),
                "sklearn_s": statistics.median(theirs_s),
                "ours_iterations": ours.iterations,
                "sklearn_iterations": int(theirs.n_iter_[0]),
                "ours_objective": ours.objective,
                "sklearn_objective": theirs_objective,
                "ours_converged": ours.converged,
                "load_average": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
