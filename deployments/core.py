"""Backend Core on Serve: accounts and billing in their own deployment, reached by handle.

The gateway holds a :class:`deployments.handles.ByHandle` with the methods of
:class:`rivergen.core.BackendCorePort` (``deployments/gateway.py``): each call is a handle call,
and the platform's errors raised in Backend Core come out of the call as themselves (404 stays
404).
"""

from __future__ import annotations

from ray.serve.deployment import Application

from deployments.scaling import autoscaled
from rivergen.clients import PlatformClients
from rivergen.core import BackendCore
from rivergen.settings import GatewaySettings, load_settings

DEPLOYMENT_NAME = "backend-core"


class BackendCoreDeployment(BackendCore):
    async def __init__(self) -> None:  # type: ignore[misc]  # Serve awaits it
        self._clients = await PlatformClients.open(load_settings())
        super().__init__(self._clients)

    async def __del__(self) -> None:
        await self._clients.close()


def core_deployment(settings: GatewaySettings | None = None) -> Application:
    sizing = settings or GatewaySettings()
    return autoscaled(
        BackendCoreDeployment,
        name=DEPLOYMENT_NAME,
        num_cpus=sizing.replica_num_cpus / 2,
        sizing=sizing,
    ).bind()
