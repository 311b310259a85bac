"""The `rivergen` command against the real services."""

from __future__ import annotations

import os
import subprocess
import sys

from rivergen.settings import Settings


def rivergen(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rivergen", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrate_applies_then_reports_up_to_date(migrated: Settings) -> None:
    result = rivergen("migrate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "the database is up to date"


def test_migrate_names_an_unreachable_postgres_without_its_password() -> None:
    result = rivergen(
        "migrate", RIVERGEN_POSTGRES__MIGRATE_DSN="postgresql://rivergen:pw-x1@127.0.0.1:1/rg"
    )
    assert result.returncode == 2
    assert "postgres at 127.0.0.1:1 is unreachable" in result.stderr
    assert "pw-x1" not in result.stderr + result.stdout


def test_status_when_nothing_runs(tmp_path: object) -> None:
    result = rivergen("status", "--data-dir", str(tmp_path))
    assert result.returncode == 3
    assert "not running" in result.stdout


def test_operators_add_refuses_an_email_without_an_account(migrated: Settings) -> None:
    result = rivergen("operators", "add", "no-such-person@example.com")
    assert result.returncode == 1
    assert "no account has the email no-such-person@example.com" in result.stderr
