"""Migrations: applied once each, safe when several processes start at once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from rivergen.db import MigrationRunner
from rivergen.db.migrate import bundled_migrations, migrations_from
from rivergen.errors import ConfigurationError
from rivergen.settings import Settings


@pytest.fixture
async def scratch_dsn(settings: Settings) -> str:
    """A fresh database, so these tests see an empty schema."""
    assert settings.postgres.migrate_dsn is not None
    admin = settings.postgres.migrate_dsn.get_secret_value()
    name = f"migrate_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    parts = urlsplit(admin)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def test_concurrent_runners_apply_each_migration_once(scratch_dsn: str) -> None:
    runners = [MigrationRunner(scratch_dsn) for _ in range(4)]
    applied = await asyncio.gather(*(r.apply() for r in runners))
    total = [m.version for batch in applied for m in batch]
    assert sorted(total) == [m.version for m in bundled_migrations()]
    assert await runners[0].applied_versions() == [m.version for m in bundled_migrations()]
    assert await MigrationRunner(scratch_dsn).apply() == []


async def test_a_changed_migration_is_refused(scratch_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE first_table (id int);")
    await MigrationRunner(scratch_dsn, migrations_from(tmp_path)).apply()
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE first_table (id bigint);")
    with pytest.raises(ConfigurationError, match="changed after it was applied"):
        await MigrationRunner(scratch_dsn, migrations_from(tmp_path)).apply()


async def test_a_failing_migration_leaves_nothing_half_applied(
    scratch_dsn: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE ok_table (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE bad_table (id int); SELECT 1/0;")
    with pytest.raises(asyncpg.DataError):
        await MigrationRunner(scratch_dsn, migrations_from(tmp_path)).apply()
    conn = await asyncpg.connect(scratch_dsn)
    try:
        assert await conn.fetchval("SELECT to_regclass('ok_table') IS NOT NULL")
        assert await conn.fetchval("SELECT to_regclass('bad_table') IS NULL")
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 1
    finally:
        await conn.close()
