"""The metering consumer process of tests/chaos/test_kafka_faults.py: the platform's
:class:`MeteringService` that reports each batch as a JSON line on stdout, and with
``--hang-at N`` stops inside the transaction of its N-th event once that event is not the
first of its batch: the batch's earlier events are then counted in Postgres but not committed
on the bus (the window a crash must not turn into a repeat). The test SIGKILLs it there.

Kept apart from the test module so that it starts quickly (no web app to import).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json

import asyncpg

from rivergen.billing.metering import MeteringService, UsageMeter
from rivergen.db import Database
from rivergen.events import Event, KafkaEventBus
from rivergen.settings import load_settings


class HangingMeter(UsageMeter):
    """Meters like the platform's, and with ``hang_at`` stops inside the transaction of that
    event once it is not the first of its batch: the batch's earlier events are then counted
    in Postgres but not committed on the bus (the window a crash must not turn into a repeat)."""

    def __init__(self, hang_at: int) -> None:
        self.hang_at = hang_at
        self.handled = 0
        self.in_batch = 0

    async def __call__(self, conn: asyncpg.Connection, event: Event) -> None:
        await super().__call__(conn, event)
        self.handled += 1
        self.in_batch += 1
        if self.hang_at and self.handled >= self.hang_at and self.in_batch > 1:
            print(json.dumps({"hanging": self.handled}), flush=True)
            await asyncio.sleep(3600)


async def consume(args: argparse.Namespace) -> None:
    settings = load_settings()
    assert settings.postgres.dsn is not None
    db = Database(settings.postgres.dsn.get_secret_value(), settings.postgres)
    bus = KafkaEventBus(settings.kafka, session_timeout_s=6.0)
    meter = HangingMeter(args.hang_at)
    service = MeteringService(db, bus, topics=[args.topic], group_id=args.group, meter=meter,
                              max_records=50)  # fmt: skip
    await db.open()
    await bus.start()
    print(json.dumps({"started": True}), flush=True)
    try:
        while True:
            meter.in_batch = 0
            outcome = await service.poll_once()
            if outcome.handled or outcome.duplicates:
                print(json.dumps({"handled": outcome.handled,
                                  "duplicates": outcome.duplicates}), flush=True)  # fmt: skip
    finally:
        await service.close()
        await bus.stop()
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="The metering consumer of this test.")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--hang-at", type=int, default=0)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(consume(parser.parse_args()))


if __name__ == "__main__":
    main()
