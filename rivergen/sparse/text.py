"""TF-IDF without Ray: the tokenizer, the counts, the weighing and a fitted :class:`Tfidf`.

TF-IDF is scikit-learn's ``TfidfVectorizer()`` with its defaults, to the last bit of the
vocabulary: lowercase, tokens ``(?u)\\b\\w\\w+\\b``, raw counts, ``idf = ln((1 + n) / (1 + df))
+ 1``, each row scaled to unit L2 norm; columns are the terms in sorted order. A null is an
empty document. :func:`fit_tfidf` fits in this process; ``compute/sparse/text.py`` fits the
same over ranges of documents as Ray tasks (:func:`merge_counts` joins their counts).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from rivergen.errors import ValidationFailed

TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class Tfidf:
    """A TF-IDF matrix and what made it. ``vocabulary`` maps a term to its column (columns
    in sorted term order, like scikit-learn's ``vocabulary_``)."""

    matrix: sp.csr_matrix  # (documents, terms), rows of unit L2 norm (or empty)
    vocabulary: dict[str, int]
    idf: np.ndarray  # (terms,)

    def transform(self, texts: Any) -> sp.csr_matrix:
        """Other documents (queries) over this vocabulary and idf, here in this process; terms
        not in the vocabulary are dropped."""
        counts, terms = count_terms(as_text(texts).to_pylist())
        known = np.array([self.vocabulary.get(term, -1) for term in terms], dtype=np.int64)
        kept = sp.csr_matrix(counts[:, np.flatnonzero(known >= 0)])
        return weigh(renumber(kept, known[known >= 0], len(self.vocabulary)), self.idf)


FitTfidf = Callable[[pa.Array], Tfidf]
"""Fits TF-IDF on a text column: :func:`fit_tfidf` here, or as Ray tasks."""


def fit_tfidf(texts: Any) -> Tfidf:
    """TF-IDF of ``texts`` (an Arrow string array or chunked array, or a sequence of
    ``str | None``), in this process.

    ``ValidationFailed`` ``not_text`` (not strings) or ``empty_vocabulary`` (no token at all,
    as scikit-learn refuses).
    """
    return merge_counts([count_terms(as_text(texts).to_pylist())])


def merge_counts(parts: Sequence[tuple[sp.csr_matrix, list[str]]]) -> Tfidf:
    """The TF-IDF of consecutive ranges of documents, each counted over its own vocabulary
    (:func:`count_terms`)."""
    terms = sorted(set().union(*(part_terms for _, part_terms in parts)))
    if not terms:
        raise ValidationFailed(
            "the documents hold no token of two characters or more", code="empty_vocabulary"
        )
    vocabulary = {term: i for i, term in enumerate(terms)}
    renumbered = []
    for counts, part_terms in parts:
        mapping = np.array([vocabulary[term] for term in part_terms], dtype=np.int64)
        renumbered.append(renumber(counts, mapping, len(terms)))
    counts = sp.csr_matrix(sp.vstack(renumbered, format="csr"))
    counts.sort_indices()
    df = np.bincount(counts.indices, minlength=len(terms))
    idf = np.log((1.0 + counts.shape[0]) / (1.0 + df)) + 1.0
    return Tfidf(matrix=weigh(counts, idf), vocabulary=vocabulary, idf=idf)


def count_terms(documents: list[str | None]) -> tuple[sp.csr_matrix, list[str]]:
    """Counts of ``documents`` over their own vocabulary (in first-seen order)."""
    local: dict[str, int] = {}
    indptr, indices, data = [0], [], []
    for document in documents:
        for term, count in Counter(TOKEN_PATTERN.findall((document or "").lower())).items():
            indices.append(local.setdefault(term, len(local)))
            data.append(count)
        indptr.append(len(indices))
    counts = sp.csr_matrix(
        (np.array(data, dtype=np.float64), np.array(indices, dtype=np.int32), np.array(indptr)),
        shape=(len(documents), len(local)),
    )
    return counts, list(local)


def renumber(counts: sp.csr_matrix, mapping: np.ndarray, columns: int) -> sp.csr_matrix:
    """``counts`` with column ``j`` moved to ``mapping[j]`` of ``columns`` (a new matrix: the
    arrays of a task's result are read-only)."""
    return sp.csr_matrix(
        (counts.data.copy(), mapping[counts.indices].astype(np.int32), counts.indptr.copy()),
        shape=(counts.shape[0], columns),
    )


def weigh(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Counts times idf, each row scaled to unit L2 norm (an empty row stays empty)."""
    weighted = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    weighted.data *= idf[weighted.indices]
    return normalize_rows(weighted)


def normalize_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Each row scaled to unit L2 norm (an empty row stays empty)."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0.0] = 1.0
    scaled = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    scaled.data /= np.repeat(norms, np.diff(scaled.indptr))
    return scaled


def as_text(texts: Any) -> pa.Array:
    """``texts`` as one Arrow string array (``ValidationFailed`` ``not_text`` otherwise)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks else pa.array([], pa.string())
    elif not isinstance(texts, pa.Array):
        try:
            texts = pa.array(list(texts), pa.string())
        except (TypeError, pa.ArrowException) as exc:
            raise ValidationFailed("texts must be strings", code="not_text") from exc
    if pa.types.is_dictionary(texts.type):
        texts = texts.dictionary_decode()
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        raise ValidationFailed(f"texts must be strings, not {texts.type}", code="not_text")
    return texts
