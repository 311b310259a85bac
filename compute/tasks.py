"""Awaiting Ray tasks from async code: the platform's own errors come out as themselves."""

from __future__ import annotations

from typing import Any

import ray
from ray.exceptions import RayTaskError

from rivergen.errors import DependencyUnavailable, RiverGenError


def require_ray() -> None:
    """Compute needs a Ray cluster: inside Serve and `rivergen up` there is one; a process that
    never joined one gets a clear 503 rather than a silent local start."""
    if not ray.is_initialized():
        raise DependencyUnavailable(
            "the compute cluster is not connected (Ray is not initialized in this process)",
            code="compute_unavailable",
        )


async def outcome(ref: Any) -> Any:
    """The result of a task (an ObjectRef), awaited: a :class:`RiverGenError` the task raised
    comes out as itself (a 4xx stays a 4xx); anything else as Ray gave it."""
    try:
        return await ref
    except RayTaskError as exc:
        raise unwrap(exc) from None


def got(ref: Any) -> Any:
    """:func:`outcome` for synchronous callers (``ray.get``)."""
    try:
        return ray.get(ref)
    except RayTaskError as exc:
        raise unwrap(exc) from None


def unwrap(exc: RayTaskError) -> BaseException:
    """Our own error raised in a task, as itself (Ray wraps it); anything else as Ray gave it."""
    return exc.cause if isinstance(exc.cause, RiverGenError) else exc
