"""A TCP fault proxy on loopback, put between the platform and one backing service.

It forwards bytes both ways and injects one fault at a time, switched while traffic flows:

- ``pass_through()``: forward as is;
- ``latency(ms)``: hold every chunk ``ms`` milliseconds before forwarding it (both ways);
- ``blackhole()``: a network partition: new connections are accepted but never reach the
  service, and nothing is forwarded on open ones (bytes wait, as TCP would retransmit them,
  and flow again once the partition heals);
- ``reset()``: every open connection is aborted with a TCP RST, and so is every new one.

The proxy runs its own event loop in a daemon thread, so it keeps forwarding while the test's
loop (or a blocking client) waits. It also records the local port of each connection it
opened to the service, so a test can match the service's own client list (PgBouncer's
``SHOW CLIENTS``, Redis ``CLIENT LIST``) against what the proxy still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import struct
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

_CHUNK = 64 * 1024


class Mode(enum.Enum):
    PASS = "pass"
    LATENCY = "latency"
    BLACKHOLE = "blackhole"
    RESET = "reset"


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                _abort_with_rst(writer)


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        # Linger 0: close() sends RST instead of FIN.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """``127.0.0.1:<port>`` forwarding to ``upstream_host:upstream_port``."""

    def __init__(self, upstream_host: str, upstream_port: int, *, listen_port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listen_port = listen_port
        self._mode = Mode.PASS
        self._latency_s = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._links: set[_Link] = set()
        self._upstream_ports: set[int] = set()
        self.port = 0

    # -- life -------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        ready: Future[int] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name=f"fault-proxy-{self.upstream[1]}", daemon=True
        )
        self._thread.start()
        self.port = ready.result(timeout=10)
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._call(self._shutdown)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- faults -----------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        return self._mode

    def pass_through(self) -> None:
        self._call(self._set, Mode.PASS, 0.0)

    def latency(self, ms: float) -> None:
        self._call(self._set, Mode.LATENCY, ms / 1000.0)

    def blackhole(self) -> None:
        self._call(self._set, Mode.BLACKHOLE, 0.0)

    def reset(self) -> None:
        self._call(self._set, Mode.RESET, 0.0)

    # -- what it holds ----------------------------------------------------------------------

    def open_connections(self) -> int:
        """Client connections the proxy holds now."""
        return int(self._call(lambda: len(self._links)))

    def upstream_ports(self) -> set[int]:
        """Local ports of the proxy's open connections to the service."""
        return set(self._call(lambda: set(self._upstream_ports)))

    # -- inside the proxy's loop ------------------------------------------------------------

    def _call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn`` in the proxy's loop and return its result (thread-safe)."""
        assert self._loop is not None, "the proxy is not started"
        done: Future[Any] = Future()

        def run() -> None:
            try:
                done.set_result(fn(*args))
            except BaseException as exc:  # handed to the caller
                done.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return done.result(timeout=10)

    def _run(self, ready: Future[int]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            self._flowing = asyncio.Event()
            self._flowing.set()
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", self._listen_port)
            )
            ready.set_result(self._server.sockets[0].getsockname()[1])
            loop.run_forever()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def _set(self, mode: Mode, latency_s: float) -> None:
        assert self._flowing is not None
        self._mode, self._latency_s = mode, latency_s
        if mode is Mode.BLACKHOLE:
            self._flowing.clear()
        else:
            self._flowing.set()
        if mode is Mode.RESET:
            for link in list(self._links):
                link.abort()

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        link = _Link(writer)
        self._links.add(link)
        port: int | None = None
        try:
            if self._mode is Mode.RESET:
                return
            await self._flowing.wait()  # a partition: the SYN "never arrives" upstream
            if self._mode is Mode.RESET:
                return
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            link.upstream = up_writer
            port = up_writer.get_extra_info("sockname")[1]
            self._upstream_ports.add(port)
            await asyncio.gather(
                self._pump(reader, up_writer, link), self._pump(up_reader, writer, link)
            )
        except OSError:
            pass
        finally:
            if port is not None:
                self._upstream_ports.discard(port)
            self._links.discard(link)
            if self._mode is Mode.RESET:
                link.abort()
            else:
                for w in (writer, link.upstream):
                    if w is not None:
                        w.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link
    ) -> None:
        assert self._flowing is not None
        try:
            while data := await reader.read(_CHUNK):
                await self._flowing.wait()
                if self._latency_s:
                    await asyncio.sleep(self._latency_s)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof() and not writer.is_closing():
                writer.write_eof()
        except OSError:
            # One side is gone: so is the other (as a real peer would see it).
            link.abort()
