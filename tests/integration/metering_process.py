"""The metering consumer process of the billing and chaos tests: the platform's
:class:`MeteringService` reporting each batch as a JSON line on stdout, and with ``--hang-at N``
stopping inside the transaction of its N-th metered event once that event is not the first of
its batch (the earlier ones are committed in Postgres, not on Kafka: the window a crash must not
turn into double counting). The tests SIGKILL it there.

A module of its own so that it starts quickly (no web app to import).
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
    """The real meter; with ``hang_at`` it stops inside the transaction of its N-th metered
    event once that event is not the first of its batch (the earlier ones are committed in
    Postgres, not on Kafka: the window a crash must not turn into double counting)."""

    def __init__(self, hang_at: int) -> None:
        self.hang_at = hang_at
        self.metered = 0
        self.in_batch = 0

    async def __call__(self, conn: asyncpg.Connection, event: Event) -> None:
        await super().__call__(conn, event)
        self.metered += 1
        self.in_batch += 1
        if self.hang_at and self.metered >= self.hang_at and self.in_batch > 1:
            print(json.dumps({"hanging": self.metered}), flush=True)
            await asyncio.sleep(3600)


async def consume(args: argparse.Namespace) -> None:
    settings = load_settings()
    assert settings.postgres.dsn is not None
    db = Database(settings.postgres.dsn.get_secret_value(), settings.postgres)
    # The broker's minimum session timeout: a killed member leaves the group sooner.
    bus = KafkaEventBus(settings.kafka, session_timeout_s=6.0)
    await db.open()
    await bus.start()
    meter = HangingMeter(args.hang_at)
    service = MeteringService(
        db,
        bus,
        topics=args.topics,
        group_id=args.group,
        name="meter-1",
        meter=meter,
        max_records=40,
    )
    print(json.dumps({"started": True}), flush=True)
    try:
        while True:
            meter.in_batch = 0
            outcome = await service.poll_once()
            if outcome.handled or outcome.duplicates:
                print(json.dumps(vars(outcome)), flush=True)
    finally:
        await service.close()
        await bus.stop()
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="The metering consumer of the tests.")
    parser.add_argument("--topics", nargs="+", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--hang-at", type=int, default=0)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(consume(parser.parse_args()))


if __name__ == "__main__":
    main()
