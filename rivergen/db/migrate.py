"""Versioned plain-SQL migrations, applied once each, straight to Postgres.

Files live in ``rivergen/db/migrations`` as ``NNNN_name.sql`` and are applied in order, each in
its own transaction together with its row in ``schema_migrations``. A session-level advisory
lock serializes runners, so two processes starting at once apply each file exactly once; this
is why migrations use the direct DSN and never the transaction-pooling bouncer.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg

from rivergen.errors import ConfigurationError
from rivergen.urls import safe_address

# Any constant works; it only has to be the same for every runner.
_LOCK_KEY = 0x52495645  # "RIVE"
_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def bundled_migrations() -> list[Migration]:
    """The migrations shipped with the package, in version order."""
    folder = resources.files("rivergen.db") / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE_RE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ConfigurationError(f"duplicate migration versions in {folder}")
    return found


def migrations_from(folder: Path) -> list[Migration]:
    """Migrations from a folder (tests use their own)."""
    found = [
        Migration(int(m[1]), m[2], p.read_text(encoding="utf-8"))
        for p in sorted(folder.glob("*.sql"))
        if (m := _FILE_RE.match(p.name))
    ]
    return sorted(found, key=lambda m: m.version)


class MigrationRunner:
    """Applies pending migrations over one direct connection."""

    def __init__(self, dsn: str, migrations: list[Migration] | None = None) -> None:
        self._dsn = dsn
        self._migrations = bundled_migrations() if migrations is None else migrations

    async def apply(self, timeout_s: float = 15.0) -> list[Migration]:
        """Apply what is pending; returns the migrations this call applied."""
        try:
            conn = await asyncpg.connect(self._dsn, timeout=timeout_s)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            raise ConfigurationError(
                f"postgres at {safe_address(self._dsn)} is unreachable for migrations: {exc}",
                code="postgres_unreachable",
            ) from exc
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
            try:
                return await self._apply_locked(conn)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
        finally:
            await conn.close()

    async def _apply_locked(self, conn: asyncpg.Connection) -> list[Migration]:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
        applied = {r["version"]: r["checksum"] for r in rows}
        done: list[Migration] = []
        for migration in self._migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise ConfigurationError(
                        f"migration {migration.version:04d}_{migration.name} changed after it "
                        "was applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            done.append(migration)
        return done

    async def applied_versions(self) -> list[int]:
        conn = await asyncpg.connect(self._dsn)
        try:
            exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
            if not exists:
                return []
            rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
            return [r["version"] for r in rows]
        finally:
            await conn.close()
