"""Columns of an Arrow table as a sparse feature matrix: fitted once on training rows, then the
same transform for any other rows (held-out rows, rows a caller sends to score).

Encodings (:class:`~rivergen.services.ml.schemas.FeatureSpec`):

- ``numeric``: ``(x - mean) / std`` with the training mean and population standard deviation
  (scikit-learn's ``StandardScaler``; a constant column has scale 1); a null is 0 (the mean).
- ``one_hot``: a column per value seen in training (as text, sorted); an unseen value or a null
  sets none.
- ``hashing``: ``n_features`` buckets (CRC-32 of the value as text); a null sets none.
- ``tfidf``: the words of a text column, as :mod:`rivergen.sparse.text` computes them (fitting
  in this process, or as the caller's ``fit_tfidf`` does: the training job's runs Ray tasks).

The fitted state is plain JSON (:meth:`FeatureTransformer.state`), stored with a model's
artifact and read back by :meth:`FeatureTransformer.from_state`.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from rivergen.errors import ValidationFailed
from rivergen.services.ml.schemas import FeatureSpec
from rivergen.sparse.arrow import csr_from_parts, dense_column
from rivergen.sparse.text import FitTfidf, Tfidf, fit_tfidf

DEFAULT_HASH_FEATURES = 256
# Inferring specs: a text column with at most this many distinct values is one-hot encoded.
MAX_ONE_HOT_VALUES = 50
# ... and one whose values average this many characters or more is free text (TF-IDF).
MIN_TEXT_CHARS = 20


def _is_numeric(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    )


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _as_text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if not _is_text(array.type):
        array = pc.cast(array, pa.string())
    return array


def infer_specs(table: pa.Table, target: str) -> list[FeatureSpec]:
    """Default features for ``table`` (every column but ``target``): numbers are ``numeric``
    (an integer column whose every value differs, an id, is left out), text with few distinct
    values ``one_hot``, long text ``tfidf``, other text ``hashing`` unless nearly every value
    differs (an id). Dates and other types are left out."""
    specs: list[FeatureSpec] = []
    rows = max(1, table.num_rows)
    for name in table.column_names:
        if name == target:
            continue
        column = table.column(name)
        distinct = len(pc.unique(column.drop_null())) if len(column) else 0
        if _is_numeric(column.type):
            if pa.types.is_integer(column.type) and distinct == rows and rows > 2:
                continue
            specs.append(FeatureSpec(column=name, encoding="numeric"))
        elif _is_text(column.type):
            text = _as_text(column)
            lengths = pc.utf8_length(text.drop_null()) if len(text) else pa.array([], pa.int32())
            mean_chars = float(pc.mean(lengths).as_py() or 0.0)
            if distinct <= MAX_ONE_HOT_VALUES:
                specs.append(FeatureSpec(column=name, encoding="one_hot"))
            elif mean_chars >= MIN_TEXT_CHARS:
                specs.append(FeatureSpec(column=name, encoding="tfidf"))
            elif distinct <= rows // 2:
                specs.append(
                    FeatureSpec(column=name, encoding="hashing", n_features=DEFAULT_HASH_FEATURES)
                )
    if not specs:
        raise ValidationFailed(
            "no column can be used as a feature (numbers or text other than the target)",
            code="no_features",
        )
    return specs


class FeatureTransformer:
    """A fitted list of feature specs. ``transform`` gives a CSR of ``len(feature_names())``
    columns, in the order of the specs."""

    def __init__(self, states: list[dict[str, Any]]) -> None:
        self._states = states
        self._names: list[str] = []
        for state in states:
            self._names += _names(state)
        self._tfidf: dict[str, Tfidf] = {}

    # Building ----------------------------------------------------------------------------------

    @classmethod
    def fit(
        cls, table: pa.Table, specs: Sequence[FeatureSpec], *, fit_text: FitTfidf = fit_tfidf
    ) -> FeatureTransformer:
        """Fit every spec on ``table`` (422 ``column_not_found``, ``column_type_mismatch``);
        ``fit_text`` fits a TF-IDF column (in this process by default)."""
        states = [_fit_one(_column(table, spec.column), spec, fit_text) for spec in specs]
        return cls(states)

    @classmethod
    def from_state(cls, state: list[dict[str, Any]]) -> FeatureTransformer:
        return cls([dict(s) for s in state])

    def state(self) -> list[dict[str, Any]]:
        """The fitted state, JSON-safe."""
        return [dict(s) for s in self._states]

    # Using -------------------------------------------------------------------------------------

    @property
    def columns(self) -> list[str]:
        """The input columns, in spec order."""
        return [s["column"] for s in self._states]

    @property
    def specs(self) -> list[FeatureSpec]:
        return [
            FeatureSpec(column=s["column"], encoding=s["encoding"], n_features=s.get("n_features"))
            for s in self._states
        ]

    def feature_names(self) -> list[str]:
        """One name per output column: ``column`` (numeric), ``column=value`` (one-hot),
        ``column#bucket`` (hashing), ``column:word`` (TF-IDF)."""
        return list(self._names)

    def transform(self, table: pa.Table) -> sp.csr_matrix:
        """The features of ``table``'s rows (422 ``column_not_found``, ``column_type_mismatch``)."""
        blocks: list[sp.csr_matrix] = []
        numeric: list[np.ndarray] = []  # adjacent numeric columns become one block
        for state in self._states:
            column = _column(table, state["column"])
            if state["encoding"] == "numeric":
                numeric.append(_scaled(column, state))
                continue
            if numeric:
                blocks.append(sp.csr_matrix(np.column_stack(numeric)))
                numeric = []
            blocks.append(self._transform_one(column, state))
        if numeric:
            blocks.append(sp.csr_matrix(np.column_stack(numeric)))
        if not blocks:
            return sp.csr_matrix((table.num_rows, 0))
        matrix = blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")
        return sp.csr_matrix(matrix, dtype=np.float64)

    def table_of_rows(self, rows: Sequence[dict[str, Any]]) -> pa.Table:
        """Rows as a caller sends them (JSON objects) as a table of the input columns: 422
        ``row_missing_column`` or ``row_value_invalid`` for a row that does not fit."""
        columns: dict[str, pa.Array] = {}
        for state in self._states:
            name = state["column"]
            if name in columns:
                continue
            values = []
            for i, row in enumerate(rows):
                if name not in row:
                    raise ValidationFailed(
                        f"row {i} has no {name!r} (the model reads {', '.join(self.columns)})",
                        code="row_missing_column",
                        details={"row": i, "column": name},
                    )
                values.append(row[name])
            columns[name] = _typed(values, state)
        return pa.table(columns) if columns else pa.table({"_": pa.nulls(len(rows))})

    def _transform_one(self, column: pa.ChunkedArray, state: dict[str, Any]) -> sp.csr_matrix:
        encoding = state["encoding"]
        n = len(column)
        if encoding == "one_hot":
            categories = pa.array(state["categories"], pa.string())
            codes = pc.index_in(_as_text(column), value_set=categories)
            return _one_per_row(codes, n, len(state["categories"]))
        if encoding == "hashing":
            buckets = [
                None if v is None else _bucket(v, state["n_features"])
                for v in _as_text(column).to_pylist()
            ]
            return _one_per_row(pa.array(buckets, pa.int64()), n, state["n_features"])
        return self._tfidf_of(state).transform(_as_text(column))

    def _tfidf_of(self, state: dict[str, Any]) -> Tfidf:
        found = self._tfidf.get(state["column"])
        if found is None:
            vocabulary = {term: i for i, term in enumerate(state["vocabulary"])}
            idf = np.asarray(state["idf"], dtype=np.float64)
            found = Tfidf(sp.csr_matrix((0, len(vocabulary))), vocabulary, idf)
            self._tfidf[state["column"]] = found
        return found


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise ValidationFailed(
            f"the data has no column {name!r}", code="column_not_found", details={"column": name}
        )
    return table.column(name)


def _numbers(column: pa.ChunkedArray | pa.Array, name: str) -> np.ndarray:
    if not _is_numeric(column.type):
        raise ValidationFailed(
            f"column {name!r} is {column.type}: a numeric feature must be a number",
            code="column_type_mismatch",
            details={"column": name, "type": str(column.type)},
        )
    if pa.types.is_boolean(column.type):
        column = pc.cast(column, pa.float64())
    return np.asarray(dense_column(column, null_fill=np.nan), dtype=np.float64)


def _scaled(column: pa.ChunkedArray, state: dict[str, Any]) -> np.ndarray:
    values = _numbers(column, state["column"])
    return np.where(np.isnan(values), 0.0, (values - state["mean"]) / state["scale"])


def _fit_one(column: pa.ChunkedArray, spec: FeatureSpec, fit_text: FitTfidf) -> dict[str, Any]:
    base: dict[str, Any] = {"column": spec.column, "encoding": spec.encoding}
    if spec.encoding == "numeric":
        values = _numbers(column, spec.column)
        seen = values[~np.isnan(values)]
        mean = float(seen.mean()) if seen.size else 0.0
        std = float(seen.std()) if seen.size else 0.0
        return base | {"mean": mean, "scale": std if std > 0 else 1.0}
    if not _is_text(column.type) and spec.encoding == "tfidf":
        raise ValidationFailed(
            f"column {spec.column!r} is {column.type}: TF-IDF needs text",
            code="column_type_mismatch",
            details={"column": spec.column},
        )
    if spec.encoding == "one_hot":
        values = pc.unique(_as_text(column).drop_null()).to_pylist()
        return base | {"categories": sorted(values)}
    if spec.encoding == "hashing":
        return base | {"n_features": spec.n_features or DEFAULT_HASH_FEATURES}
    fitted = fit_text(_as_text(column))
    terms = sorted(fitted.vocabulary, key=fitted.vocabulary.__getitem__)
    return base | {"vocabulary": terms, "idf": [float(v) for v in fitted.idf]}


def _names(state: dict[str, Any]) -> list[str]:
    column, encoding = state["column"], state["encoding"]
    if encoding == "numeric":
        return [column]
    if encoding == "one_hot":
        return [f"{column}={value}" for value in state["categories"]]
    if encoding == "hashing":
        return [f"{column}#{i}" for i in range(state["n_features"])]
    return [f"{column}:{term}" for term in state["vocabulary"]]


def _bucket(value: str, n_features: int) -> int:
    return zlib.crc32(value.encode()) % n_features


def _one_per_row(codes: pa.Array | pa.ChunkedArray, n: int, width: int) -> sp.csr_matrix:
    """A CSR with a 1 at ``codes[i]`` on row ``i`` (none where the code is null)."""
    if isinstance(codes, pa.ChunkedArray):
        codes = codes.combine_chunks() if codes.num_chunks else pa.array([], pa.int64())
    valid = np.asarray(codes.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    indices = np.asarray(codes.drop_null().to_numpy(zero_copy_only=False), dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(valid)]).astype(np.int64)
    return csr_from_parts(np.ones(len(indices)), indices, indptr, (n, width))


def _typed(values: list[Any], state: dict[str, Any]) -> pa.Array:
    try:
        if state["encoding"] == "numeric":
            return pa.array([None if v is None else float(v) for v in values], pa.float64())
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(
            f"column {state['column']!r} must hold numbers: {exc}",
            code="row_value_invalid",
            details={"column": state["column"]},
        ) from None


def split_indices(
    n_rows: int, test_fraction: float, *, seed: int = 0, strata: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out row positions (each sorted): a seeded random ``test_fraction``
    of the rows held out, of every stratum alike when ``strata`` (one label per row) is given."""
    rng = np.random.default_rng(seed)
    groups = (
        [np.arange(n_rows)]
        if strata is None
        else [np.flatnonzero(strata == value) for value in np.unique(strata)]
    )
    held: list[np.ndarray] = []
    for group in groups:
        shuffled = rng.permutation(group)
        held.append(shuffled[: round(len(group) * test_fraction)])
    test = np.sort(np.concatenate(held)) if held else np.array([], dtype=np.int64)
    train = np.setdiff1d(np.arange(n_rows), test)
    return train, test
