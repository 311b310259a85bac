"""Postgres access: a pool that is safe behind PgBouncer, tenant context, migrations."""

from rivergen.db.migrate import MigrationRunner
from rivergen.db.pool import Database

__all__ = ["Database", "MigrationRunner"]
