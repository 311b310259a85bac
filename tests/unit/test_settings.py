from __future__ import annotations

import os

import pytest

from rivergen.settings import Settings


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIVERGEN_POSTGRES__DSN", "postgresql://u:secret-pw@db:6432/app")
    monkeypatch.setenv("RIVERGEN_KAFKA__BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("RIVERGEN_GATEWAY__MAX_REPLICAS", "6")
    settings = Settings()
    assert settings.postgres.dsn is not None
    assert settings.postgres.dsn.get_secret_value().endswith("@db:6432/app")
    assert settings.kafka.bootstrap_servers == "k1:9092,k2:9092"
    assert settings.gateway.max_replicas == 6


def test_secrets_never_show_in_repr_or_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIVERGEN_POSTGRES__DSN", "postgresql://u:secret-pw@db:6432/app")
    monkeypatch.setenv("RIVERGEN_S3__SECRET_ACCESS_KEY", "s3-secret-key")
    settings = Settings()
    shown = repr(settings) + settings.model_dump_json()
    assert "secret-pw" not in shown and "s3-secret-key" not in shown


def test_nothing_configured_means_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RIVERGEN_"):
            monkeypatch.delenv(name)
    settings = Settings()
    assert settings.postgres.dsn is None
    assert settings.kafka.bootstrap_servers is None
    assert not settings.s3.configured
    assert settings.ray.dashboard_host == "127.0.0.1"
    assert settings.http.ha_proxy is True


def test_invalid_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIVERGEN_GATEWAY__MIN_REPLICAS", "0")
    with pytest.raises(ValueError, match="min_replicas"):
        Settings()
