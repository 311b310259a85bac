"""Spelling correction of a question's words against what the grammar and the catalog know.

A word that nothing knows (no table, column, value, measure, synonym, grammar word or filler)
is read as the one known word closest to it by edit distance (insertions, deletions,
substitutions and swaps of two letters): one edit for words of four to eight letters, two for
longer ones. Only a unique closest word is taken, and the catalog's words win a tie with the
grammar's (a question is about its data): `custmers`, `Germny`, `expensve`, `lenght`. The
correction is said in how the question was read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MIN_LENGTH = 4


def distance(a: str, b: str, limit: int) -> int:
    """The optimal string alignment distance of ``a`` and ``b``; ``limit + 1`` once it is
    known to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def allowed_edits(word: str) -> int:
    return 0 if len(word) < MIN_LENGTH else 1 if len(word) <= 8 else 2


@dataclass(frozen=True)
class Speller:
    """Known words in tiers, the first preferred on a tie (the catalog's, then the
    grammar's)."""

    tiers: tuple[frozenset[str], ...]

    @classmethod
    def of(cls, *tiers: Iterable[str]) -> Speller:
        return cls(tuple(frozenset(w for w in tier if w.isalpha()) for tier in tiers))

    def knows(self, word: str) -> bool:
        return any(word in tier for tier in self.tiers)

    def correct(self, word: str) -> str | None:
        """The known word ``word`` stands for, if one is closest; None otherwise."""
        limit = allowed_edits(word)
        if limit == 0 or not word.isalpha() or self.knows(word):
            return None
        best: tuple[int, int] | None = None  # (distance, tier)
        found: list[str] = []
        for rank, tier in enumerate(self.tiers):
            for known in tier:
                if len(known) < MIN_LENGTH or (len(word) == MIN_LENGTH and known[0] != word[0]):
                    continue
                d = distance(word, known, limit)
                if d > limit:
                    continue
                key = (d, rank)
                if best is None or key < best:
                    best, found = key, [known]
                elif key == best and known not in found:
                    found.append(known)
        return found[0] if len(found) == 1 else None
