"""Notifications end to end: Kafka -> notification bridge -> Redis Socket -> Socket.io -> clients.

    python -m bench.notifications [--clients 100] [--burst 2000] [--paced 200 --rate 50]

Three processes: a Socket.io server with the Redis adapter under uvicorn (what each replica of
the Socket.io cluster runs), the bridge (``NotificationBridge``, its own topic and group), and
this one, which connects the clients to one workspace's room and publishes to Kafka. Latency is
from the event's ``occurred_at`` (set just before publishing) to a client's receipt (same
clock). The burst gives the throughput (events a second, each to every client); the paced run
the latency without a queue. Reference: ``redis-benchmark`` PUBLISH on the Redis Socket server.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime
from typing import Any

import socketio
import uvicorn
from aiokafka.admin import AIOKafkaAdminClient

from rivergen.db import Database
from rivergen.events import Event, KafkaEventBus, OutgoingEvent, ensure_topics
from rivergen.notifications import NotificationBridge, NotificationEmitter, workspace_room
from rivergen.settings import Settings, load_settings

PORT = 29420


def _secret(value: Any) -> str:
    assert value is not None
    return str(value.get_secret_value())


async def serve(channel: str, port: int) -> None:
    settings = load_settings()
    manager = socketio.AsyncRedisManager(
        _secret(settings.redis_socket.url), channel=channel,
        redis_options={"socket_timeout": None, "health_check_interval": 10},
    )  # fmt: skip
    server = socketio.AsyncServer(async_mode="asgi", client_manager=manager)

    @server.event
    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, str]) -> None:
        await server.enter_room(sid, workspace_room(auth["workspace"]))

    config = uvicorn.Config(
        socketio.ASGIApp(server), host="127.0.0.1", port=port, log_level="warning",
        lifespan="off", ws_max_queue=1024,
    )  # fmt: skip
    await uvicorn.Server(config).serve()


async def bridge(topic: str, group: str, channel: str) -> None:
    settings = load_settings()
    db = Database(_secret(settings.postgres.dsn), settings.postgres)
    bus = KafkaEventBus(settings.kafka)
    await db.open()
    await bus.start()
    emitter = NotificationEmitter(
        _secret(settings.redis_socket.url), settings.redis_socket, channel=channel
    )
    worker = NotificationBridge(db, bus, emitter, topics=[topic], group_id=group, max_records=500)
    await worker.run(asyncio.Event())


def _child(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench.notifications", *args])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _wait(check: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        await asyncio.sleep(0.05)


async def _connect(clients: list[socketio.AsyncClient], url: str, workspace: str) -> None:
    """Connect every client to ``workspace``'s room once the server listens."""
    deadline = time.monotonic() + 30
    for client in clients:
        while True:
            try:
                await client.connect(
                    url, transports=["websocket"], auth={"workspace": workspace}, wait_timeout=10
                )
                break
            except socketio.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings()
    run = uuid.uuid4().hex[:10]
    topic, group, channel = f"bench.notify.{run}", f"bench-notify-{run}", f"socketio-bench-{run}"
    workspace = str(uuid.uuid4())
    await ensure_topics(settings.kafka, [topic], num_partitions=1, replication_factor=1)
    server = _child("serve", "--channel", channel, "--port", str(args.port))
    worker = _child("bridge", "--topic", topic, "--group", group, "--channel", channel)
    received: list[float] = []
    latencies: list[float] = []
    clients = [socketio.AsyncClient(reconnection=False) for _ in range(args.clients)]

    async def on_event(event: str, data: dict[str, Any]) -> None:
        now = time.time()
        received.append(now)
        latencies.append((now - datetime.fromisoformat(data["occurred_at"]).timestamp()) * 1e3)

    bus = KafkaEventBus(settings.kafka)
    await bus.start()
    try:
        for client in clients:
            client.on("*", on_event)
        await _connect(clients, f"http://127.0.0.1:{args.port}", workspace)

        def event(n: int) -> OutgoingEvent:
            return OutgoingEvent(topic, Event(
                type="job.progress", workspace_id=workspace, data={"job_id": run, "n": n}
            ))  # fmt: skip

        # Warm-up: the bridge joins its group and every path is open.
        await bus.publish_many([event(-1)])
        await _wait(lambda: len(received) >= args.clients, 90)

        # Paced: latency without a queue.
        received.clear()
        latencies.clear()
        for n in range(args.paced):
            await bus.publish_many([event(n)])
            await asyncio.sleep(1 / args.rate)
        await _wait(lambda: len(received) >= args.paced * args.clients, 120)
        paced_latencies = list(latencies)

        # Burst: throughput.
        received.clear()
        latencies.clear()
        started = time.time()
        for first in range(0, args.burst, 500):
            await bus.publish_many([event(n) for n in range(first, min(args.burst, first + 500))])
        await _wait(lambda: len(received) >= args.burst * args.clients, 300)
        elapsed = max(received) - started
        burst_latencies = list(latencies)
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.disconnect()
        await bus.stop()
        for child in (worker, server):
            child.terminate()
            child.wait(10)
        await _drop(settings, topic, group)
    return {
        "clients": args.clients,
        "burst_events": args.burst,
        "events_per_s": args.burst / elapsed,
        "deliveries_per_s": args.burst * args.clients / elapsed,
        "burst_p50_ms": statistics.median(burst_latencies),
        "burst_p99_ms": _percentile(burst_latencies, 0.99),
        "paced_events": args.paced,
        "paced_rate": args.rate,
        "paced_p50_ms": statistics.median(paced_latencies),
        "paced_p99_ms": _percentile(paced_latencies, 0.99),
        "redis_publish_per_s": redis_publish_reference(settings),
    }


async def _drop(settings: Settings, topic: str, group: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    try:
        await admin.start()
        with contextlib.suppress(Exception):
            await admin.delete_consumer_groups([group])
        with contextlib.suppress(Exception):
            await admin.delete_topics([topic])
    finally:
        await admin.close()


def redis_publish_reference(settings: Settings) -> float:
    """``redis-benchmark`` PUBLISH (50 connections, 100,000 requests) on the Redis Socket server."""
    url = _secret(settings.redis_socket.url)
    match = re.match(r"redis://(?:[^@]*@)?([^:/]+):(\d+)", url)
    assert match, url
    out = subprocess.run(
        ["redis-benchmark", "-h", match[1], "-p", match[2], "-n", "100000", "-c", "50", "--csv",
         "PUBLISH", "bench-reference", "x" * 200],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    row = out.stdout.strip().splitlines()[-1].split(",")
    return float(row[1].strip('"'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="role")
    serving = sub.add_parser("serve")
    serving.add_argument("--channel", required=True)
    serving.add_argument("--port", type=int, required=True)
    bridging = sub.add_parser("bridge")
    bridging.add_argument("--topic", required=True)
    bridging.add_argument("--group", required=True)
    bridging.add_argument("--channel", required=True)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--paced", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()
    if args.role == "serve":
        asyncio.run(serve(args.channel, args.port))
    elif args.role == "bridge":
        asyncio.run(bridge(args.topic, args.group, args.channel))
    else:
        print(json.dumps(asyncio.run(measure(args))))


if __name__ == "__main__":
    main()
