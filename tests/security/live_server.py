"""The whole API under uvicorn in a thread of its own (its own event loop), for tests that call
it synchronously (Schemathesis) or read what it logs."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import redis
import uvicorn

from rivergen.settings import Settings
from tests.platform_app import create_app


@dataclass
class Person:
    email: str
    password: str
    access_token: str
    refresh_token: str
    workspace_id: str
    user_id: str

    def headers(self, workspace_id: str | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.access_token}",
            "X-Workspace-ID": workspace_id or self.workspace_id,
        }


def register(client: httpx.Client, name: str) -> Person:
    email = f"{name}-{uuid.uuid4().hex[:10]}@example.com"
    password = f"correct horse {uuid.uuid4().hex}"
    response = client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": password, "display_name": name.title()},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text
    return Person(
        email,
        password,
        body["access_token"],
        body["refresh_token"],
        body["workspace_id"],
        str(me.json()["user_id"]),
    )


@contextmanager
def live_server(settings: Settings, *, access_log: bool = False) -> Iterator[str]:
    """The base URL of the API, served until the block ends."""
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="info" if access_log else "warning",
        access_log=access_log,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it started"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def clear_login_throttle(settings: Settings) -> None:
    """Forget failed sign-ins counted in Redis App (every test client signs in from loopback,
    and generated requests fail many)."""
    assert settings.redis_app.url is not None
    client = redis.Redis.from_url(settings.redis_app.url.get_secret_value(), socket_timeout=5)
    try:
        keys = list(client.scan_iter("rl:login:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
