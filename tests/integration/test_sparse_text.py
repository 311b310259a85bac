"""TF-IDF and cosine top-k as Ray tasks: scikit-learn's TfidfVectorizer to 1e-12 on Northwind's
text fields, and top-k equal to brute force (scores to 1e-12, indices up to ties)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
import ray
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from compute.sparse import Cancelled
from compute.sparse.blocks import RowBlocks
from compute.sparse.text import TopK, cosine_top_k, tfidf
from rivergen.errors import ValidationFailed
from tests.conftest import SHARED_DATA

NORTHWIND = SHARED_DATA / "northwind"
FIELDS = [
    ("products.csv", "quantityPerUnit"),
    ("products.csv", "productName"),
    ("categories.csv", "description"),
    ("employees.csv", "notes"),
]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


def northwind(file: str, column: str) -> pa.ChunkedArray:
    table = pcsv.read_csv(
        NORTHWIND / file,
        convert_options=pcsv.ConvertOptions(column_types={column: pa.string()}),
    )
    return table.column(column)


def max_difference(a: sp.csr_matrix, b: sp.csr_matrix) -> float:
    difference = sp.csr_matrix(a - b)
    return float(np.abs(difference.data).max(initial=0.0))


def assert_same_tfidf(found: sp.csr_matrix, vocabulary: dict[str, int], texts: list[str]) -> None:
    reference = TfidfVectorizer()
    expected = reference.fit_transform(texts)
    assert vocabulary == reference.vocabulary_
    assert found.shape == expected.shape
    assert max_difference(found, expected) <= 1e-12


@pytest.mark.parametrize(("file", "column"), FIELDS)
def test_tfidf_equals_scikit_learn_on_northwind(ray_cluster: None, file: str, column: str) -> None:
    texts = northwind(file, column)
    # A small task floor: several tasks, so the merge of their vocabularies is what is tested.
    found = tfidf(texts, min_chars_per_task=200)
    assert_same_tfidf(found.matrix, found.vocabulary, texts.to_pylist())
    assert found.matrix.has_sorted_indices


def test_tfidf_of_queries_uses_the_same_vocabulary(ray_cluster: None) -> None:
    texts = northwind("categories.csv", "description").to_pylist()
    queries = ["Sweet breads and cheeses", "nothing known here", "", "TEAS, teas, teas"]
    found = tfidf(texts, min_chars_per_task=50)
    reference = TfidfVectorizer().fit(texts)
    assert max_difference(found.transform(queries), reference.transform(queries)) <= 1e-12


def test_nulls_are_empty_documents_and_progress_is_reported(ray_cluster: None) -> None:
    texts = pa.chunked_array([["Chai tea", None], ["", "tea and more TEA", None, "ÉCOLE école"]])
    seen: list[float] = []
    found = tfidf(texts, min_chars_per_task=5, progress=lambda f, _: seen.append(f))
    plain = [text or "" for text in texts.to_pylist()]
    assert_same_tfidf(found.matrix, found.vocabulary, plain)
    assert found.matrix[1].nnz == 0
    assert seen and seen[-1] == 1.0


def test_tfidf_refusals(ray_cluster: None) -> None:
    with pytest.raises(ValidationFailed) as raised:
        tfidf(["a", "b c", None])
    assert raised.value.error_code == "empty_vocabulary"
    with pytest.raises(ValidationFailed) as raised:
        tfidf(pa.array([1, 2, 3]))
    assert raised.value.error_code == "not_text"
    with pytest.raises(Cancelled):
        tfidf(["some words"] * 10, min_chars_per_task=10, cancelled=lambda: True)


def brute_force(
    matrix: sp.csr_matrix, queries: sp.csr_matrix, self_rows: np.ndarray | None
) -> np.ndarray:
    scores = normalize(queries).toarray() @ normalize(matrix).toarray().T
    if self_rows is not None:
        scores[np.arange(len(self_rows)), self_rows] = -np.inf
    return scores


def assert_top_k(found: TopK, expected: np.ndarray, k: int) -> None:
    """Scores to 1e-12 of brute force's k best; each index scores what it claims; order is
    score descending then index ascending; no row twice."""
    k = min(k, int(np.isfinite(expected).sum(axis=1).min(initial=expected.shape[1])))
    assert found.indices.shape == found.scores.shape == (expected.shape[0], k)
    best = -np.sort(-expected, axis=1)[:, :k]
    np.testing.assert_allclose(found.scores, best, rtol=0, atol=1e-12)
    claimed = np.take_along_axis(expected, found.indices, axis=1)
    np.testing.assert_allclose(found.scores, claimed, rtol=0, atol=1e-12)
    for indices, scores in zip(found.indices, found.scores, strict=True):
        assert len(set(indices.tolist())) == k
        order = np.lexsort((indices, -scores))
        assert (order == np.arange(k)).all()


def test_top_k_on_northwind_tfidf(ray_cluster: None) -> None:
    matrix = tfidf(northwind("products.csv", "productName")).matrix
    blocks = RowBlocks.put(matrix, min_nnz_per_block=40, plan="tasks")
    assert len(blocks) > 1
    everyone = brute_force(matrix, matrix, None)
    assert_top_k(cosine_top_k(blocks, 5), everyone, 5)
    not_self = brute_force(matrix, matrix, np.arange(matrix.shape[0]))
    found = cosine_top_k(blocks, 5, exclude_self=True)
    assert_top_k(found, not_self, 5)
    assert (found.indices != np.arange(matrix.shape[0])[:, None]).all()
    rows = np.array([10, 3, 3, 70])
    found = cosine_top_k(matrix, 3, query_rows=rows, exclude_self=True, min_nnz_per_block=40)
    assert_top_k(found, brute_force(matrix, matrix[rows], rows), 3)


def test_top_k_of_outside_queries_and_k_beyond_the_rows(ray_cluster: None) -> None:
    model = tfidf(northwind("categories.csv", "description"))
    queries = model.transform(["cheese and milk", "seafood", "unknown words only"])
    found = cosine_top_k(model.matrix, 50, queries=queries, min_nnz_per_block=5)
    assert found.indices.shape == (3, model.matrix.shape[0])  # k capped at the rows there are
    assert_top_k(found, brute_force(model.matrix, queries, None), 50)
    assert (found.scores[2] == 0.0).all()
    assert found.indices[2].tolist() == list(range(model.matrix.shape[0]))  # ties: lower first


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"k": 0}, "invalid_k"),
        ({"k": True}, "invalid_k"),
        ({"queries": sp.csr_matrix((1, 4))}, "shape_mismatch"),
        ({"queries": sp.csr_matrix((1, 3)), "exclude_self": True}, "exclude_self_needs_rows"),
        ({"queries": sp.csr_matrix((1, 3)), "query_rows": [0]}, "ambiguous_queries"),
        ({"query_rows": [3]}, "row_out_of_range"),
        ({"query_rows": [-1]}, "row_out_of_range"),
        ({"matrix": np.eye(3)}, "not_sparse"),
    ],
)
def test_top_k_refusals(ray_cluster: None, kwargs: dict[str, object], code: str) -> None:
    arguments: dict[str, object] = {"matrix": sp.csr_matrix(np.eye(3)), "k": 2}
    arguments.update(kwargs)
    with pytest.raises(ValidationFailed) as raised:
        cosine_top_k(**arguments)  # type: ignore[arg-type]
    assert raised.value.error_code == code


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.integers(1, 50),
    cols=st.integers(1, 12),
    queries=st.integers(0, 8),
    density=st.sampled_from([0.0, 0.1, 0.3, 1.0]),
    k=st.integers(1, 12),
    exclude_self=st.booleans(),
    integers=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_top_k_property(
    ray_cluster: None,
    rows: int,
    cols: int,
    queries: int,
    density: float,
    k: int,
    exclude_self: bool,
    integers: bool,
    seed: int,
) -> None:
    """Any shape and density, empty rows and columns, negative values, exact ties (small
    integers): the same as brute force."""
    rng = np.random.default_rng(seed)
    matrix = sp.random(rows, cols, density=density, random_state=rng, format="csr")
    matrix.data = np.round(matrix.data * 4 - 2) if integers else matrix.data * 2 - 1
    if exclude_self or queries == 0:
        query_rows = rng.integers(0, rows, size=max(queries, 1))
        found = cosine_top_k(
            matrix, k, query_rows=query_rows, exclude_self=exclude_self, min_nnz_per_block=4
        )
        expected = brute_force(matrix, matrix[query_rows], query_rows if exclude_self else None)
    else:
        outside = sp.random(queries, cols, density=0.5, random_state=rng, format="csr")
        found = cosine_top_k(matrix, k, queries=outside, min_nnz_per_block=4)
        expected = brute_force(matrix, outside, None)
    if exclude_self and rows == 1:
        assert found.indices.shape == (len(query_rows), 0)
        return
    assert_top_k(found, expected, k)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    documents=st.lists(
        st.one_of(
            st.none(),
            st.text(alphabet=st.sampled_from(list("abAB ,.-_é1ßΣ\n")), max_size=30),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_tfidf_property(ray_cluster: None, documents: list[str | None]) -> None:
    plain = [document or "" for document in documents]
    try:
        expected = TfidfVectorizer().fit(plain)
    except ValueError:  # scikit-learn's "empty vocabulary"
        with pytest.raises(ValidationFailed):
            tfidf(documents, min_chars_per_task=8)
        return
    found = tfidf(documents, min_chars_per_task=8)
    assert found.vocabulary == expected.vocabulary_
    assert max_difference(found.matrix, expected.transform(plain)) <= 1e-12
