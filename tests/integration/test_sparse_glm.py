"""Sparse GLM training as Ray tasks: the same optimum as scikit-learn, on the same CSR matrix.

Both sides' objectives are computed by one function (`glm_objective`, scikit-learn's documented
objective with an unpenalized intercept), and agree to 1e-6 relative. scikit-learn solvers that
leave the intercept unpenalized: `lbfgs` and `saga` for LogisticRegression; Ridge and Lasso
center the data instead of penalizing it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import ray
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Lasso, LogisticRegression, Ridge

from compute.sparse import Cancelled
from compute.sparse.blocks import RowBlocks
from compute.sparse.glm import GLMResult, fit_glm, glm_objective
from rivergen.errors import ValidationFailed

TIGHT = {"tol": 1e-10, "max_iter": 5000}
SMALL_BLOCKS = 200  # nonzeros per block: several blocks, several tasks


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


def problem(
    seed: int, rows: int = 300, cols: int = 25, density: float = 0.15
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """A CSR matrix with an empty row and an empty column, binary labels, real targets."""
    rng = np.random.default_rng(seed)
    matrix = sp.random(rows, cols, density=density, random_state=rng, format="lil")
    matrix[3, :] = 0
    matrix[:, 7] = 0
    csr = sp.csr_matrix(matrix) * 3.0
    truth = rng.normal(size=cols)
    z = csr @ truth - 0.2
    labels = (rng.random(rows) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    targets = z + 0.5 + 0.1 * rng.normal(size=rows)
    return csr, labels, targets


def objective_of(
    model: GLMResult,
    coef: np.ndarray,
    intercept: float,
    matrix: sp.csr_matrix,
    y: np.ndarray,
    weights: np.ndarray | None = None,
) -> float:
    return glm_objective(
        matrix,
        y,
        coef,
        intercept,
        family=model.family,
        penalty=model.penalty,
        C=model.C,
        sample_weight=weights,
    )


def assert_same_optimum(ours: float, theirs: float) -> None:
    assert abs(ours - theirs) <= 1e-6 * abs(theirs), (ours, theirs)


@pytest.mark.parametrize(
    ("penalty", "solver", "l1_ratio", "C"),
    [("l2", "lbfgs", 0.0, 0.5), ("l2", "lbfgs", 0.0, 20.0), ("l1", "saga", 1.0, 0.8)],
)
def test_logistic_matches_scikit_learn(
    ray_cluster: None, penalty: str, solver: str, l1_ratio: float, C: float
) -> None:
    matrix, labels, _ = problem(1)
    model = fit_glm(
        matrix, labels, penalty=penalty, C=C, min_nnz_per_block=SMALL_BLOCKS, plan="tasks", **TIGHT
    )
    reference = LogisticRegression(
        C=C, l1_ratio=l1_ratio, solver=solver, tol=1e-12, max_iter=100_000
    ).fit(matrix, labels)
    theirs = objective_of(model, reference.coef_.ravel(), reference.intercept_[0], matrix, labels)
    assert model.converged and model.iterations > 1
    assert model.objective == pytest.approx(
        objective_of(model, model.coef, model.intercept, matrix, labels), rel=1e-12
    )
    assert_same_optimum(model.objective, theirs)
    assert model.coef[7] == 0.0  # an empty column gets no weight
    if penalty == "l1":
        assert set(np.flatnonzero(model.coef)) == set(np.flatnonzero(reference.coef_))
    np.testing.assert_allclose(model.coef, reference.coef_.ravel(), atol=1e-4)
    proba = reference.predict_proba(matrix)[:, 1]
    np.testing.assert_allclose(model.predict(matrix), proba, atol=1e-4)


def test_ridge_matches_scikit_learn_with_sample_weights(ray_cluster: None) -> None:
    matrix, _, targets = problem(2)
    weights = np.random.default_rng(3).uniform(0.0, 2.0, size=matrix.shape[0])
    C = 2.0
    model = fit_glm(
        matrix,
        targets,
        family="linear",
        C=C,
        sample_weight=weights,
        min_nnz_per_block=SMALL_BLOCKS,
        plan="tasks",
        **TIGHT,
    )
    reference = Ridge(alpha=1.0 / C, solver="sparse_cg", tol=1e-14, max_iter=100_000)
    reference.fit(matrix, targets, sample_weight=weights)
    theirs = objective_of(model, reference.coef_, reference.intercept_, matrix, targets, weights)
    assert model.converged
    assert_same_optimum(model.objective, theirs)
    np.testing.assert_allclose(model.coef, reference.coef_, atol=1e-5)


def test_lasso_matches_scikit_learn(ray_cluster: None) -> None:
    matrix, _, targets = problem(4)
    C = 0.3
    model = fit_glm(
        matrix,
        targets,
        family="linear",
        penalty="l1",
        C=C,
        min_nnz_per_block=SMALL_BLOCKS,
        plan="tasks",
        **TIGHT,
    )
    reference = Lasso(alpha=1.0 / (C * matrix.shape[0]), tol=1e-14, max_iter=1_000_000)
    reference.fit(matrix, targets)
    theirs = objective_of(model, reference.coef_, reference.intercept_, matrix, targets)
    assert model.converged
    assert_same_optimum(model.objective, theirs)
    assert set(np.flatnonzero(model.coef)) == set(np.flatnonzero(reference.coef_))
    assert 0 < np.count_nonzero(model.coef) < matrix.shape[1]  # L1 chose some features


def test_row_blocks_put_once_give_the_same_model(ray_cluster: None) -> None:
    matrix, labels, _ = problem(5)
    blocks = RowBlocks.put(matrix, min_nnz_per_block=SMALL_BLOCKS, plan="tasks")
    assert len(blocks) > 1
    from_blocks = fit_glm(blocks, labels, C=1.0, **TIGHT)
    from_matrix = fit_glm(matrix, labels, C=1.0, **TIGHT)  # the chosen plan: in process
    assert (from_blocks.plan, from_matrix.plan) == ("tasks", "in_process")
    np.testing.assert_allclose(from_blocks.coef, from_matrix.coef, atol=1e-9)
    assert from_blocks.objective == pytest.approx(from_matrix.objective, rel=1e-12)


def test_no_intercept_fits_through_the_origin(ray_cluster: None) -> None:
    matrix, labels, _ = problem(6)
    model = fit_glm(matrix, labels, C=1.0, fit_intercept=False, **TIGHT)
    reference = LogisticRegression(C=1.0, fit_intercept=False, tol=1e-12, max_iter=10_000)
    reference.fit(matrix, labels)
    assert model.intercept == 0.0
    assert_same_optimum(
        model.objective, objective_of(model, reference.coef_.ravel(), 0.0, matrix, labels)
    )


def test_extreme_scores_do_not_overflow(ray_cluster: None) -> None:
    """Separable data with huge features: exp(z) would overflow; the loss stays finite."""
    matrix = sp.csr_matrix(np.array([[1e6, 0.0], [-1e6, 0.0], [0.0, 1e6], [0.0, -1e6]]))
    labels = np.array([1.0, 0.0, 1.0, 0.0])
    model = fit_glm(matrix, labels, C=1e6, max_iter=50)
    assert np.isfinite(model.objective) and np.isfinite(model.coef).all()
    assert (model.predict(matrix) > 0.5).tolist() == [True, False, True, False]


def test_progress_each_iteration_and_cancel_stops(ray_cluster: None) -> None:
    matrix, labels, _ = problem(7)
    seen: list[tuple[float, str]] = []
    model = fit_glm(matrix, labels, progress=lambda f, m: seen.append((f, m)), **TIGHT)
    assert len(seen) == model.iterations
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)
    assert seen[-1][1].startswith(f"iteration {model.iterations}:")
    calls = iter(range(100))
    with pytest.raises(Cancelled):
        fit_glm(matrix, labels, cancelled=lambda: next(calls) >= 3, **TIGHT)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"y": [0, 1, 2]}, "labels_not_binary"),
        ({"y": [1, 1, 1]}, "single_class"),
        ({"y": [0, 1]}, "shape_mismatch"),
        ({"y": [0, 1, np.nan]}, "non_finite_labels"),
        ({"C": 0.0}, "invalid_c"),
        ({"C": -1.0}, "invalid_c"),
        ({"C": float("inf")}, "invalid_c"),
        ({"penalty": "elasticnet"}, "invalid_penalty"),
        ({"family": "poisson"}, "invalid_family"),
        ({"tol": 0.0}, "invalid_tolerance"),
        ({"max_iter": 0}, "invalid_max_iter"),
        ({"sample_weight": [1.0, 1.0]}, "shape_mismatch"),
        ({"sample_weight": [1.0, -1.0, 1.0]}, "invalid_sample_weight"),
        ({"sample_weight": [0.0, 0.0, 0.0]}, "invalid_sample_weight"),
        ({"matrix": np.eye(3)}, "not_sparse"),
        ({"matrix": sp.csr_matrix((0, 3)), "y": []}, "empty_matrix"),
        ({"matrix": sp.csr_matrix(np.array([[np.inf], [0], [1]]))}, "non_finite_features"),
    ],
)
def test_refuses_what_it_cannot_train_on(
    ray_cluster: None, kwargs: dict[str, object], code: str
) -> None:
    arguments: dict[str, object] = {"matrix": sp.csr_matrix(np.eye(3)), "y": [0, 1, 0]}
    arguments.update(kwargs)
    with pytest.raises(ValidationFailed) as raised:
        fit_glm(**arguments)
    assert raised.value.error_code == code


def ridge_by_normal_equations(
    matrix: sp.csr_matrix, y: np.ndarray, C: float
) -> tuple[np.ndarray, float]:
    """min C/2 ||Xw + b - y||^2 + 1/2 ||w||^2 (b unpenalized), solved densely."""
    dense = np.hstack([matrix.toarray(), np.ones((matrix.shape[0], 1))])
    regular = np.eye(dense.shape[1]) / C
    regular[-1, -1] = 0.0
    solution = np.linalg.lstsq(dense.T @ dense + regular, dense.T @ y, rcond=None)[0]
    return solution[:-1], float(solution[-1])


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.integers(1, 60),
    cols=st.integers(1, 30),
    density=st.sampled_from([0.0, 0.05, 0.3, 1.0]),
    C=st.floats(0.01, 100.0),
    seed=st.integers(0, 2**16),
)
def test_ridge_property(
    ray_cluster: None, rows: int, cols: int, density: float, C: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    matrix = sp.random(rows, cols, density=density, random_state=rng, format="csr")
    targets = rng.normal(size=rows)
    model = fit_glm(
        matrix, targets, family="linear", C=C, min_nnz_per_block=8, tol=1e-12, max_iter=5000
    )
    coef, intercept = ridge_by_normal_equations(matrix, targets, C)
    exact = objective_of(model, coef, intercept, matrix, targets)
    assert model.objective <= exact + 1e-6 * max(abs(exact), 1e-6)
    empty = np.asarray(matrix.getnnz(axis=0)) == 0
    assert (model.coef[empty] == 0.0).all()


def assert_optimal(model: GLMResult, matrix: sp.csr_matrix, y: np.ndarray) -> None:
    """The optimality conditions, on the objective divided by ``C * rows``: a zero gradient
    (L2), or a subgradient containing zero (L1); a zero intercept gradient."""
    z = matrix @ model.coef + model.intercept
    dz = 1.0 / (1.0 + np.exp(-z)) - y if model.family == "logistic" else z - y
    scale = model.C * matrix.shape[0]
    gradient = model.C * (matrix.T @ dz) / scale
    assert abs(model.C * dz.sum() / scale) <= 1e-6
    if model.penalty == "l2":
        assert np.abs(gradient + model.coef / scale).max() <= 1e-6
        return
    active = model.coef != 0.0
    assert np.abs(gradient[active] + np.sign(model.coef[active]) / scale).max(initial=0) <= 1e-6
    assert (np.abs(gradient[~active]) - 1.0 / scale).max(initial=0) <= 1e-6


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.integers(2, 80),
    cols=st.integers(1, 20),
    density=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
    family=st.sampled_from(["logistic", "linear"]),
    penalty=st.sampled_from(["l2", "l1"]),
    C=st.floats(0.05, 50.0),
    seed=st.integers(0, 2**16),
)
def test_optimality_property(
    ray_cluster: None,
    rows: int,
    cols: int,
    density: float,
    family: str,
    penalty: str,
    C: float,
    seed: int,
) -> None:
    """Any shape and density, empty rows and columns, both families and penalties: the
    returned model satisfies the optimality conditions, and its objective is its own."""
    rng = np.random.default_rng(seed)
    matrix = sp.random(rows, cols, density=density, random_state=rng, format="csr")
    y = np.zeros(rows)
    y[rng.permutation(rows)[: max(1, rows // 3)]] = 1.0
    if family == "linear":
        y = y + rng.normal(size=rows)
    model = fit_glm(
        matrix,
        y,
        family=family,
        penalty=penalty,
        C=C,
        min_nnz_per_block=8,
        **TIGHT,
    )
    assert_optimal(model, matrix, y)
    assert model.objective == pytest.approx(
        objective_of(model, model.coef, model.intercept, matrix, y), rel=1e-12
    )
