"""Shared test setup: which suite needs what.

- tests/unit: no servers, no Ray (ray.init raises there).
- tests/integration: the real services from `scripts/services up` (their addresses come from
  `scripts/services env`, which `scripts/test` exports).
- tests/e2e: Ray, Serve and the real services.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rivergen.accounts.credentials import generate_private_key_pem
from rivergen.db import Database, MigrationRunner
from rivergen.settings import Settings, load_settings

# Every replica of a deployment signs with the same key: the tests (and the processes they
# start) share one made for this run.
os.environ.setdefault("RIVERGEN_AUTH__JWT_PRIVATE_KEY", generate_private_key_pem())
# The tests sign up many people from one address; test_registration_limit sets its own.
os.environ.setdefault("RIVERGEN_AUTH__REGISTRATIONS_PER_HOUR", "1000000")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

REQUIRED = (
    "RIVERGEN_POSTGRES__DSN",
    "RIVERGEN_POSTGRES__MIGRATE_DSN",
    "RIVERGEN_REDIS_APP__URL",
    "RIVERGEN_REDIS_SOCKET__URL",
    "RIVERGEN_KAFKA__BOOTSTRAP_SERVERS",
    "RIVERGEN_S3__ENDPOINT_URL",
)


@pytest.fixture(scope="session")
def settings() -> Settings:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        # Fail, never skip: a suite that silently skips its servers proves nothing.
        pytest.fail(
            f"{', '.join(missing)} not set: start the services with `scripts/services up` and "
            'export them with `eval "$(scripts/services env)"` (scripts/test does both)'
        )
    return load_settings()


@pytest.fixture(scope="session")
async def migrated(settings: Settings) -> Settings:
    assert settings.postgres.migrate_dsn is not None
    await MigrationRunner(settings.postgres.migrate_dsn.get_secret_value()).apply()
    return settings


@pytest.fixture
async def db(migrated: Settings) -> AsyncIterator[Database]:
    """A pool through PgBouncer (transaction pooling)."""
    assert migrated.postgres.dsn is not None
    database = Database(migrated.postgres.dsn.get_secret_value(), migrated.postgres)
    await database.open()
    yield database
    await database.close()
