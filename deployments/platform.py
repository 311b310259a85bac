"""The Serve applications of `rivergen up`, and the process that runs it.

``rivergen up`` (:mod:`rivergen.cli.main`) checks its options and whether a platform already
runs, then goes on in the same process as ``python -m deployments.platform``: this module, above
the library, hands :class:`ServeApps` to :func:`rivergen.cli.runner.run_platform`.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from ray import serve

from deployments.events import relay_app
from deployments.gateway import gateway_app
from deployments.haproxy_ingress import BINARY_ENV, write_launcher
from deployments.sockets import ROUTE_PREFIX as SOCKETS_PREFIX
from deployments.sockets import sockets_app
from deployments.storage import ROUTE_PREFIX as STORAGE_PREFIX
from deployments.storage import storage_app
from rivergen.cli.main import start_platform
from rivergen.cli.runner import LOCAL_HAPROXY
from rivergen.settings import Settings, load_settings

APP_NAME = "rivergen"
EVENTS_APP_NAME = "rivergen-events"
STORAGE_APP_NAME = "rivergen-storage"
SOCKETS_APP_NAME = "rivergen-sockets"


def local_ingress_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a local head's HAProxy name the client (``option
    forwardfor``) and keep its stats and metrics on loopback: Ray runs RiverGen's launcher as
    its HAProxy binary (deployments/haproxy_ingress.py says why), and the gateway trusts the
    header from HAProxy (and the load balancers of ``http.upstream_proxies``) alone."""
    launcher = write_launcher(settings.data_dir.expanduser().resolve() / "run" / "haproxy")
    trusted = [LOCAL_HAPROXY, *(str(n) for n in settings.http.upstream_proxies)]
    return {
        BINARY_ENV: str(launcher),
        "RIVERGEN_GATEWAY__TRUSTED_PROXIES": json.dumps(trusted),
    }


class ServeApps:
    """:class:`rivergen.cli.runner.ServeApps`: the event workers, the gateway, Storage
    Orchestration and the Socket.io cluster."""

    def local_ingress_env(self, settings: Settings) -> dict[str, str]:
        return local_ingress_env(settings)

    def deploy(self, settings: Settings) -> None:
        serve.start(http_options={"host": settings.http.host, "port": settings.http.port})
        serve.run(relay_app(), name=EVENTS_APP_NAME, route_prefix=None)
        serve.run(gateway_app(settings.gateway), name=APP_NAME, route_prefix="/")
        serve.run(
            storage_app(settings.storage, settings.gateway),
            name=STORAGE_APP_NAME,
            route_prefix=STORAGE_PREFIX,
        )
        serve.run(sockets_app(settings.sockets), name=SOCKETS_APP_NAME, route_prefix=SOCKETS_PREFIX)

    def remove(self, settings: Settings) -> None:
        if settings.ray.address:
            serve.delete(SOCKETS_APP_NAME)
            serve.delete(STORAGE_APP_NAME)
            serve.delete(APP_NAME)
            serve.delete(EVENTS_APP_NAME)
        else:
            serve.shutdown()  # type: ignore[no-untyped-call]


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def up(demo: Annotated[bool, typer.Option("--demo")] = False) -> None:
    """`rivergen up` once its options are in the environment (what `rivergen up` runs)."""
    start_platform(load_settings(), ServeApps(), demo=demo)


if __name__ == "__main__":
    app()
