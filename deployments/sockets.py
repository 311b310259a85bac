"""The Socket.io cluster: a Serve application of its own under ``/socket.io``.

Each replica runs :func:`rivergen.realtime.create_socket_app` (built on the replica, from the
replica's environment) and subscribes to the Redis Socket channel, so an event emitted from
anywhere reaches every client in its rooms, whichever replica holds the client's WebSocket.
Each open socket is an ongoing request of its replica for as long as it stays open: the
replicas take many at once (``RIVERGEN_SOCKETS__MAX_ONGOING_REQUESTS``) and reserve little CPU.
"""

from __future__ import annotations

import time

from ray import serve
from ray.serve.deployment import Application

from rivergen.realtime import SOCKET_PATH, SocketApp, create_socket_app
from rivergen.settings import SocketSettings, load_settings

DEPLOYMENT_NAME = "socketio"
ROUTE_PREFIX = SOCKET_PATH
# A replica whose subscription stays missing this long while Redis answers is restarted by Serve
# (its own watch forces a new subscription long before).
UNHEALTHY_AFTER_S = 30.0


@serve.ingress()
class SocketReplica:
    """One Socket.io server; its id in ``welcome`` is the Serve replica's id."""

    def __init__(self) -> None:
        instance_id = serve.get_replica_context().replica_id.unique_id
        self._app: SocketApp = create_socket_app(load_settings(), instance_id)

    def __serve_build_asgi_app__(self) -> SocketApp:
        return self._app

    def check_health(self) -> None:
        state = self._app.cluster.readiness().listener
        if state is None or state.subscribed or state.error is not None:
            return
        if state.missing_since is not None and (
            time.monotonic() - state.missing_since > UNHEALTHY_AFTER_S
        ):
            raise RuntimeError("the Socket.io listener has not been subscribed for 30 s")


def sockets_app(settings: SocketSettings | None = None) -> Application:
    """The Socket.io application: ``settings.num_replicas`` replicas (4 by default) of a
    fraction of a CPU each."""
    sizing = settings or SocketSettings()
    return serve.deployment(
        name=DEPLOYMENT_NAME,
        num_replicas=sizing.num_replicas,
        ray_actor_options={"num_cpus": sizing.replica_num_cpus},
        max_ongoing_requests=sizing.max_ongoing_requests,
        health_check_period_s=5,
        graceful_shutdown_timeout_s=5,
    )(SocketReplica).bind()


# `serve deploy deployments/serve_config.yaml` imports this (deployments.sockets:app).
app = sockets_app()
