"""How a caller (the job system) watches and stops a kernel.

Every kernel takes ``progress(fraction, message)`` (fraction in [0, 1], never decreasing) and
``cancelled()`` (polled between iterations). A kernel that sees ``cancelled()`` true raises
:class:`Cancelled` before submitting more tasks; tasks already running finish on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

Progress = Callable[[float, str], None]
IsCancelled = Callable[[], bool]


class Cancelled(Exception):
    """The caller asked the kernel to stop; it stopped between two iterations."""


@dataclass
class Watch:
    """A kernel's view of its caller's callbacks."""

    progress: Progress | None = None
    cancelled: IsCancelled | None = None
    _last: float = field(default=0.0, init=False)

    def check(self) -> None:
        """Raise :class:`Cancelled` if the caller asked to stop."""
        if self.cancelled is not None and self.cancelled():
            raise Cancelled("cancelled by the caller")

    def report(self, fraction: float, message: str) -> None:
        """Report ``fraction`` done (clamped to [0, 1] and kept from going back)."""
        self._last = max(self._last, min(1.0, max(0.0, fraction)))
        if self.progress is not None:
            self.progress(self._last, message)
