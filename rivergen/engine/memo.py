"""What the engine works out from a query's text and its inputs' schemas alone (its admitted
SQL, its column lineage, the columns it reads), kept for when the same query comes again: a
dashboard's or a scheduled job's query is admitted and traced once per process, not per run.

Keys hold everything the answer depends on (the text, the inputs' dataset versions and their
column types), so a kept answer is the one a new computation would give. Errors are never kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Memo(Generic[V]):
    """A thread-safe map of the ``size`` most recently used answers."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._kept: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The answer kept for ``key``, else ``compute()``'s (kept if it returns)."""
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        value = compute()
        with self._lock:
            self._kept[key] = value
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return value
