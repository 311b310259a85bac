"""One way for a deployment to reach another: a proxy with the methods of a library port whose
calls go through a Serve handle. The platform's errors raised on the other side come out of
the call as themselves (a 404 stays 404)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ray import serve
from ray.exceptions import RayTaskError
from ray.serve.handle import DeploymentHandle

from rivergen.errors import RiverGenError


class ByHandle:
    """Any port over a deployment handle: ``await proxy.method(...)`` is a handle call."""

    def __init__(self, handle: DeploymentHandle[Any]) -> None:
        self._handle = handle

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self._handle, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return await method.remote(*args, **kwargs)
            except RayTaskError as exc:
                if isinstance(exc.cause, RiverGenError):
                    raise exc.cause from None
                raise

        return call


def by_handle(deployment: str) -> Any:
    """A :class:`ByHandle` for ``deployment`` of the calling replica's own application."""
    app_name = serve.get_replica_context().app_name
    return ByHandle(serve.get_deployment_handle(deployment, app_name=app_name))
