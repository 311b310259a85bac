"""The gateway app served by uvicorn in the test's loop, with its backing services reached
through fault proxies, and the probes that find leaked connections on the services' side."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import redis.asyncio as aioredis
import uvicorn

from rivergen.settings import Settings
from tests.chaos.fault_proxy import FaultProxy
from tests.platform_app import create_app

# The timeouts the proxied platform runs with: small, so a fault is seen quickly.
PG_TIMEOUT_S = 1.5
REDIS_TIMEOUT_S = 1.0
S3_TIMEOUT_S = 1.0
READY_TIMEOUT_S = 1.0
POOL_MAX = 4


def host_port(address: str) -> tuple[str, int]:
    parts = urlsplit(address if "//" in address else f"//{address}")
    assert parts.hostname and parts.port, address
    return parts.hostname, parts.port


def through(url: str, proxy: FaultProxy) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@{proxy.address}" if auth else proxy.address
    return urlunsplit(parts._replace(netloc=netloc))


def secret(value: Any) -> str:
    """A setting's value, secret or not (``model_copy`` keeps what it is given as is)."""
    assert value is not None
    return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)


@dataclass
class Proxies:
    postgres: FaultProxy  # in front of PgBouncer
    redis_app: FaultProxy
    kafka: FaultProxy
    s3: FaultProxy

    def all(self) -> tuple[FaultProxy, ...]:
        return (self.postgres, self.redis_app, self.kafka, self.s3)

    def heal(self) -> None:
        for proxy in self.all():
            proxy.pass_through()


def start_proxies(settings: Settings) -> Proxies:
    assert settings.kafka.bootstrap_servers and settings.s3.endpoint_url
    return Proxies(
        postgres=FaultProxy(*host_port(secret(settings.postgres.dsn))).start(),
        redis_app=FaultProxy(*host_port(secret(settings.redis_app.url))).start(),
        kafka=FaultProxy(*host_port(settings.kafka.bootstrap_servers.split(",")[0])).start(),
        s3=FaultProxy(*host_port(settings.s3.endpoint_url)).start(),
    )


def proxied_settings(settings: Settings, proxies: Proxies) -> Settings:
    """``settings`` reaching PgBouncer, Redis App, Kafka (its bootstrap) and S3 through the
    proxies, with short timeouts."""
    pg = settings.postgres.model_copy(
        update={
            "dsn": through(secret(settings.postgres.dsn), proxies.postgres),
            "connect_timeout_s": PG_TIMEOUT_S,
            "command_timeout_s": PG_TIMEOUT_S,
            "acquire_timeout_s": PG_TIMEOUT_S,
            "pool_max_size": POOL_MAX,
        }
    )
    redis_app = settings.redis_app.model_copy(
        update={
            "url": through(secret(settings.redis_app.url), proxies.redis_app),
            "socket_timeout_s": REDIS_TIMEOUT_S,
        }
    )
    kafka = settings.kafka.model_copy(
        update={"bootstrap_servers": proxies.kafka.address, "request_timeout_s": 2.0}
    )
    s3 = settings.s3.model_copy(
        update={
            "endpoint_url": f"http://{proxies.s3.address}",
            "connect_timeout_s": S3_TIMEOUT_S,
            "read_timeout_s": S3_TIMEOUT_S,
            "max_attempts": 1,
        }
    )
    gateway = settings.gateway.model_copy(update={"readiness_timeout_s": READY_TIMEOUT_S})
    return settings.model_copy(
        update={
            "postgres": pg,
            "redis_app": redis_app,
            "kafka": kafka,
            "s3": s3,
            "gateway": gateway,
            "startup_timeout_s": 3.0,
        }
    )


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The whole API under uvicorn on a loopback port, in this loop; a client for it.

    A real server, not an in-process transport: a response counts when uvicorn sends it, and
    work the app does after that (the audit trail) does not delay what the client measures.
    """
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            assert time.monotonic() < deadline, "uvicorn did not start"
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()


async def timed(call: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = await call
    return response, time.perf_counter() - start


async def until(
    probe: Callable[[], Awaitable[bool]], timeout_s: float, interval_s: float = 0.1
) -> float:
    """Poll ``probe`` until it is true; the seconds it took (fails after ``timeout_s``)."""
    start = time.perf_counter()
    while not await probe():
        assert time.perf_counter() - start < timeout_s, f"not true within {timeout_s} s"
        await asyncio.sleep(interval_s)
    return time.perf_counter() - start


# -- what the services see ---------------------------------------------------------------------


def _psql() -> str:
    found = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    assert os.path.exists(found), "psql is needed to read PgBouncer's admin console"
    return found


def pgbouncer_admin_dsn(settings: Settings) -> str:
    configured = os.environ.get("RIVERGEN_TEST_PGBOUNCER_ADMIN")
    if configured:
        return configured
    parts = urlsplit(secret(settings.postgres.dsn))
    return urlunsplit(parts._replace(path="/pgbouncer"))


def pgbouncer_show(admin_dsn: str, what: str) -> list[dict[str, str]]:
    """``SHOW <what>`` on PgBouncer's admin console (simple protocol only: psql)."""
    out = subprocess.run(
        [_psql(), admin_dsn, "-X", "--csv", "-c", f"SHOW {what}"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
        env={**os.environ, "PGCONNECT_TIMEOUT": "5"},
    ).stdout
    return list(csv.DictReader(io.StringIO(out)))


async def redis_client_ports(url: str) -> set[int]:
    """Ports of the clients Redis holds now (asked directly, not through a proxy)."""
    client = aioredis.Redis.from_url(url, socket_timeout=5)
    try:
        clients = await client.client_list()
    finally:
        await client.aclose()
    return {int(c["addr"].rpartition(":")[2]) for c in clients}
