"""Servers that data-source tests read from: a small HTTP server serving Northwind CSV (and
redirects), and a loopback trap that must never be connected to."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.conftest import SHARED_DATA

PRODUCTS_CSV = SHARED_DATA / "northwind" / "products.csv"
CSV_PORT = 28701  # the allow-listed data server
TRAP_PORT = 28702  # loopback (IPv4 and IPv6): nothing may ever connect here


def _handler(root: Path) -> type[BaseHTTPRequestHandler]:
    redirects = {
        "/to-loopback": f"http://127.0.0.1:{TRAP_PORT}/",
        "/to-localhost": f"http://localhost:{TRAP_PORT}/",
        "/to-metadata": "http://169.254.169.254/latest/meta-data/",
        "/to-file": "file:///etc/passwd",
        "/to-products": "/products.csv",
        "/loop": "/loop",
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path in redirects:
                self.send_response(302)
                self.send_header("Location", redirects[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            file = root / self.path.lstrip("/")
            if self.path.endswith(".csv") and file.is_file():
                body = file.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_error(404)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def csv_server() -> Iterator[str]:
    """Serve Northwind's CSVs on 127.0.0.1:CSV_PORT; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", CSV_PORT), _handler(PRODUCTS_CSV.parent))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{CSV_PORT}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class Trap:
    sockets: list[socket.socket]

    def connections(self) -> int:
        """Connections made to the trap so far (it never accepts them into a conversation)."""
        count = 0
        for sock in self.sockets:
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                count += 1
        return count


@contextlib.contextmanager
def loopback_trap() -> Iterator[Trap]:
    """Listen on 127.0.0.1:TRAP_PORT and [::1]:TRAP_PORT without ever answering."""
    sockets = []
    for family, host in [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, TRAP_PORT))
        except OSError:
            sock.close()
            if family == socket.AF_INET:
                raise
            continue  # no IPv6 loopback on this machine
        sock.listen(16)
        sock.setblocking(False)
        sockets.append(sock)
    try:
        yield Trap(sockets)
    finally:
        for sock in sockets:
            sock.close()
