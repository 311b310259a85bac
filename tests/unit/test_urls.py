from __future__ import annotations

import pytest

from rivergen.urls import safe_address


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://rivergen:s3cret@127.0.0.1:6432/rivergen", "127.0.0.1:6432"),
        ("redis://:s3cret@redis-app.internal:6379/0", "redis-app.internal:6379"),
        ("postgresql://postgres:@/postgres?host=/data/postgres", "/data/postgres"),
        ("unix:///data/redis/redis.sock?db=1", "/data/redis/redis.sock"),
        ("https://s3.example.com", "s3.example.com"),
    ],
)
def test_addresses_are_shown_without_credentials(url: str, shown: str) -> None:
    assert safe_address(url) == shown
    assert "s3cret" not in safe_address(url)
