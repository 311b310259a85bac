"""Awaiting Ray tasks from async code (the platform's own errors come out as themselves), and
handles of named actors kept."""

from __future__ import annotations

import threading
from collections.abc import Callable
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


# Handles of named actors, by this process's connection to Ray (its node and job: node ids are
# never reused, job ids are by another cluster), namespace and name: finding one asks the GCS
# (a blocking round trip on every call otherwise). A handle stays valid across its actor's
# restarts, not across connections.
_actors: dict[tuple[str, str, str, str], Any] = {}
_actors_lock = threading.Lock()


def _actor_key(namespace: str, name: str) -> tuple[str, str, str, str]:
    context = ray.get_runtime_context()
    return (context.get_node_id(), context.get_job_id(), namespace, name)


def named_actor(namespace: str, name: str, find: Callable[[], Any]) -> Any:
    """The handle of the named actor, found (or made) by ``find`` once per connection."""
    key = _actor_key(namespace, name)
    with _actors_lock:
        handle = _actors.get(key)
    if handle is None:
        handle = find()
        with _actors_lock:
            _actors[key] = handle
    return handle


def forget_actor(namespace: str, name: str) -> None:
    """Find the actor again next time (a call to it failed: it may be gone for good)."""
    with _actors_lock:
        _actors.pop(_actor_key(namespace, name), None)


def cpu_nodes() -> list[tuple[str, float]]:
    """The alive nodes that have CPUs: (node id, CPUs) each."""
    return [
        (str(node["NodeID"]), float(node["Resources"].get("CPU", 0.0)))
        for node in ray.nodes()  # type: ignore[no-untyped-call]
        if node["Alive"] and node["Resources"].get("CPU", 0.0) > 0
    ]
