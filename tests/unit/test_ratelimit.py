"""Rate-limit headers, key normalization, and the failure mode of each limiter with Redis down."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from rivergen.cache import connect_redis
from rivergen.errors import DependencyUnavailable
from rivergen.ratelimit import (
    LoginThrottle,
    RateDecision,
    RateLimiter,
    normalize_address,
    normalize_email,
)
from rivergen.settings import RedisSettings


def test_headers_of_an_allowed_request_have_no_retry_after() -> None:
    decision = RateDecision(
        allowed=True, limit=60, remaining=59, reset_after_s=59.2, retry_after_s=0
    )
    assert decision.headers() == {
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Remaining": "59",
        "X-RateLimit-Reset": "60",
    }


def test_headers_of_a_refused_request_carry_retry_after() -> None:
    decision = RateDecision(
        allowed=False, limit=60, remaining=0, reset_after_s=12.0, retry_after_s=3
    )
    assert decision.headers() == {
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "12",
        "Retry-After": "3",
    }


def test_emails_normalize_to_one_form() -> None:
    assert normalize_email("  Alice@Example.COM ") == "alice@example.com"
    # Full-width letters are another spelling of the same address.
    assert normalize_email("\uff21\uff2c\uff29\uff23\uff25@example.com") == "alice@example.com"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("TestClient", "testclient"),
    ],
)
def test_addresses_normalize(raw: str, normal: str) -> None:
    assert normalize_address(raw) == normal


@pytest.fixture
async def dead_redis() -> AsyncIterator[aioredis.Redis]:
    """A client for a loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = connect_redis(
        f"redis://127.0.0.1:{port}/0", RedisSettings(url=None, socket_timeout_s=0.5)
    )
    yield client
    await client.aclose()


async def test_request_limiter_fails_open_with_a_warning(
    dead_redis: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RateLimiter(dead_redis, timeout_s=1.0)
    with caplog.at_level(logging.WARNING, logger="rivergen.ratelimit"):
        decision = await limiter.hit("rl:req:down", limit=3, window_s=60)
        await limiter.hit("rl:req:down", limit=3, window_s=60)
    assert decision.allowed and decision.remaining == 3
    # One warning, not one per request: an outage must not flood the log.
    assert len([r for r in caplog.records if "failing open" in r.getMessage()]) == 1


async def test_login_throttle_fails_closed(dead_redis: aioredis.Redis) -> None:
    throttle = LoginThrottle(dead_redis, timeout_s=1.0)
    with pytest.raises(DependencyUnavailable):
        await throttle.check("203.0.113.7", "alice@example.com")
    with pytest.raises(DependencyUnavailable):
        await throttle.record_failure("203.0.113.7", "alice@example.com")
    with pytest.raises(DependencyUnavailable):
        await throttle.record_success("203.0.113.7", "alice@example.com")


async def test_limits_must_be_positive(dead_redis: aioredis.Redis) -> None:
    limiter = RateLimiter(dead_redis)
    with pytest.raises(ValueError, match="limit"):
        await limiter.hit("rl:req:bad", limit=0, window_s=60)
    with pytest.raises(ValueError, match="window"):
        await limiter.hit("rl:req:bad", limit=1, window_s=0)
