"""Awaiting Ray tasks from async code: the platform's own errors come out as themselves."""

from __future__ import annotations

from typing import Any, TypeVar

import ray
from ray.exceptions import RayTaskError

from rivergen.errors import DependencyUnavailable, RiverGenError

T = TypeVar("T")


def require_ray() -> None:
    """Compute needs a Ray cluster: inside Serve and `rivergen up` there is one; a process that
    never joined one gets a clear 503 rather than a silent local start."""
    if not ray.is_initialized():
        raise DependencyUnavailable(
            "the compute cluster is not connected (Ray is not initialized in this process)",
            code="compute_unavailable",
        )


async def outcome(ref: Any) -> Any:
    """The result of a task (an ObjectRef), re-raising a :class:`RiverGenError` it raised
    (a 4xx stays a 4xx) and wrapping anything else in the task's traceback."""
    try:
        return await ref
    except RayTaskError as exc:
        if isinstance(exc.cause, RiverGenError):
            raise exc.cause from None
        raise


def unwrap(exc: RayTaskError) -> BaseException:
    return exc.cause if isinstance(exc.cause, RiverGenError) else exc
