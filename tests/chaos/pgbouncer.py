"""A PgBouncer of a test's own, in front of the shared Postgres, configured as the test needs."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit


def _binary() -> str:
    for path in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"):
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("pgbouncer")
    assert found, "pgbouncer is not installed (scripts/services installs it)"
    return found


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def pgbouncer(direct_dsn: str, port: int, **options: str | int) -> Iterator[str]:
    """Run PgBouncer on 127.0.0.1:``port`` for the database of ``direct_dsn`` (a DSN straight
    to Postgres); ``options`` go into its ``[pgbouncer]`` section. Yields the pooled DSN."""
    url = urlsplit(direct_dsn)
    user, password = url.username or "rivergen", url.password or ""
    database = url.path.lstrip("/")
    folder = Path(tempfile.mkdtemp(prefix="rivergen-pgbouncer-"))
    settings: dict[str, str | int | Path] = {
        "listen_addr": "127.0.0.1",
        "listen_port": port,
        "unix_socket_dir": "",
        "logfile": folder / "pgbouncer.log",
        "pidfile": folder / "pgbouncer.pid",
        "auth_type": "scram-sha-256",
        "auth_file": folder / "userlist.txt",
        "admin_users": user,
        "pool_mode": "transaction",
        "max_client_conn": 200,
        "ignore_startup_parameters": "extra_float_digits,application_name",
        "server_login_retry": 1,
        **options,
    }
    (folder / "userlist.txt").write_text(f'"{user}" "{password}"\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"{database} = host={url.hostname} port={url.port or 5432} dbname={database}\n"
        "[pgbouncer]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    )
    command = [_binary(), str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        owner = pwd.getpwnam("postgres")
        for path in (folder, *folder.iterdir()):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        command = [command[0], "-u", "postgres", command[1]]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            assert process.poll() is None, f"pgbouncer exited: {_log(folder)}"
            assert time.monotonic() < deadline, "pgbouncer did not listen within 10 s"
            time.sleep(0.05)
        yield f"postgresql://{user}:{password}@127.0.0.1:{port}/{database}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        shutil.rmtree(folder, ignore_errors=True)


def _log(folder: Path) -> str:
    log = folder / "pgbouncer.log"
    return log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"


def admin_dsn(pooled_dsn: str) -> str:
    """The bouncer's admin console (``SHOW POOLS``, ``SHOW SERVERS``)."""
    url = urlsplit(pooled_dsn)
    return url._replace(path="/pgbouncer").geturl()


def _psql() -> str:
    for path in ("/usr/lib/postgresql/15/bin/psql", "/usr/bin/psql"):
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("psql")
    assert found, "psql is not installed"
    return found


async def show(pooled_dsn: str, what: str) -> list[dict[str, str]]:
    """``SHOW <what>`` on the bouncer's admin console (simple protocol only: through psql)."""
    process = await asyncio.create_subprocess_exec(
        _psql(),
        admin_dsn(pooled_dsn),
        "-X",
        "-A",
        "-F",
        "\t",
        "-P",
        "footer=off",
        "-c",
        f"SHOW {what}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 0, err.decode(errors="replace")
    header, *rows = out.decode().splitlines()
    names = header.split("\t")
    return [dict(zip(names, row.split("\t"), strict=True)) for row in rows]
