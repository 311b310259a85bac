"""The request limiter and the login throttle against the real Redis App."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from rivergen.cache import connect_redis
from rivergen.errors import RateLimited
from rivergen.ratelimit import DelayRule, LoginThrottle, RateLimiter
from rivergen.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]


@pytest.fixture
async def redis_app(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    assert settings.redis_app.url is not None
    client = connect_redis(settings.redis_app.url.get_secret_value(), settings.redis_app)
    yield client
    await client.aclose()


@pytest.fixture
def key() -> str:
    return f"rl:test:{uuid.uuid4().hex}"


@pytest.fixture
async def throttle(redis_app: aioredis.Redis) -> AsyncIterator[LoginThrottle]:
    prefix = f"rl:test-login:{uuid.uuid4().hex}"
    yield LoginThrottle(redis_app, prefix=prefix)
    async for stale in redis_app.scan_iter(match=f"{prefix}:*"):
        await redis_app.delete(stale)


async def test_exactly_limit_requests_pass_then_429(redis_app: aioredis.Redis, key: str) -> None:
    limiter = RateLimiter(redis_app)
    decisions = [await limiter.hit(key, limit=5, window_s=60) for _ in range(5)]
    assert all(d.allowed for d in decisions)
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0]

    refused = await limiter.hit(key, limit=5, window_s=60)
    assert not refused.allowed
    assert refused.remaining == 0
    assert 0 < refused.retry_after_s <= 60
    assert refused.headers()["Retry-After"] == str(refused.retry_after_s)
    # A refused request is not counted: the set still holds exactly the five allowed ones.
    assert await redis_app.zcard(key) == 5
    assert 0 < await redis_app.pttl(key) <= 60_000


async def test_the_window_slides(redis_app: aioredis.Redis, key: str) -> None:
    limiter = RateLimiter(redis_app)
    assert (await limiter.hit(key, limit=2, window_s=1)).allowed
    await asyncio.sleep(0.5)
    assert (await limiter.hit(key, limit=2, window_s=1)).allowed
    refused = await limiter.hit(key, limit=2, window_s=1)
    assert not refused.allowed and refused.retry_after_s == 1

    # The first request leaves the window: one slot frees, not two.
    await asyncio.sleep(0.7)
    again = await limiter.hit(key, limit=2, window_s=1)
    assert again.allowed and again.remaining == 0
    assert not (await limiter.hit(key, limit=2, window_s=1)).allowed

    await asyncio.sleep(1.1)
    assert (await limiter.hit(key, limit=2, window_s=1)).remaining == 1


async def test_concurrent_callers_never_exceed_the_limit(
    redis_app: aioredis.Redis, key: str
) -> None:
    limiter = RateLimiter(redis_app)
    decisions = await asyncio.gather(*(limiter.hit(key, limit=10, window_s=60) for _ in range(50)))
    assert sum(d.allowed for d in decisions) == 10
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(10))


async def test_a_lowered_limit_refuses_until_enough_requests_age_out(
    redis_app: aioredis.Redis, key: str
) -> None:
    limiter = RateLimiter(redis_app)
    for _ in range(4):
        await limiter.hit(key, limit=4, window_s=60)
    downgraded = await limiter.hit(key, limit=2, window_s=60)
    assert not downgraded.allowed and downgraded.remaining == 0
    assert downgraded.retry_after_s > 0


async def _fail(throttle: LoginThrottle, address: str, email: str, times: int) -> None:
    for _ in range(times):
        await throttle.check(address, email)
        await throttle.record_failure(address, email)


async def _refused(throttle: LoginThrottle, address: str, email: str) -> int:
    with pytest.raises(RateLimited) as refused:
        await throttle.check(address, email)
    assert refused.value.error_code == "login_throttled"
    retry: int = refused.value.details["retry_after_s"]
    return retry


def _quick(redis_app: aioredis.Redis, **rules: DelayRule) -> LoginThrottle:
    """A throttle whose delays are short enough to wait out in a test."""
    return LoginThrottle(redis_app, prefix=f"rl:test-login:{uuid.uuid4().hex}", **rules)


async def test_past_five_failures_an_account_from_one_address_waits_ever_longer(
    redis_app: aioredis.Redis,
) -> None:
    throttle = _quick(redis_app, per_pair=DelayRule(free=5, base_s=0.4, max_s=1.6))
    await _fail(throttle, "203.0.113.1", "Victim@Example.com", 5)
    # The sixth comes too soon: refused, before any password is checked, and not counted.
    assert await _refused(throttle, "203.0.113.1", "victim@example.com ") == 1
    await asyncio.sleep(0.45)
    await _fail(throttle, "203.0.113.1", "victim@example.com", 1)
    await asyncio.sleep(0.45)  # the delay doubled: 0.8 s
    await _refused(throttle, "203.0.113.1", "victim@example.com")
    await asyncio.sleep(0.4)
    await throttle.check("203.0.113.1", "victim@example.com")
    # Meanwhile the same account from another address, and another account from this
    # address, were never slowed.
    await throttle.check("198.51.100.9", "victim@example.com")
    await throttle.check("203.0.113.1", "someone-else@example.com")


async def test_failures_from_many_addresses_do_not_keep_the_owner_out(
    throttle: LoginThrottle,
) -> None:
    email = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    await throttle.record_success("192.0.2.10", email)  # the owner's own address
    for n in range(12):  # a botnet: one failure from each of twelve addresses
        await throttle.record_failure(f"198.51.100.{n}", email)
    # A new address is slowed for this account; the owner's is not.
    assert await _refused(throttle, "203.0.113.77", email) >= 1
    await throttle.check("192.0.2.10", email)


async def test_an_address_spraying_many_accounts_is_slowed(throttle: LoginThrottle) -> None:
    for n in range(20):
        await _fail(throttle, "2001:db8:7::1", f"user{n}@example.com", 1)
    await _refused(throttle, "2001:db8:7::1", "fresh@example.com")
    # Another host of the same /64 shares the log; another /64 does not.
    await _refused(throttle, "2001:db8:7:0:ffff::2", "fresh@example.com")
    await throttle.check("2001:db8:8::1", "fresh@example.com")


async def test_success_clears_the_pair_but_not_the_address(throttle: LoginThrottle) -> None:
    await _fail(throttle, "203.0.113.2", "bob@example.com", 5)
    await _refused(throttle, "203.0.113.2", "bob@example.com")
    await throttle.record_success("203.0.113.2", "BOB@example.com")
    await throttle.check("203.0.113.2", "bob@example.com")
    # The address still holds its five failures: fifteen more accounts and it is slowed, for
    # every account but Bob's, whose owner signed in from it.
    for n in range(15):
        await _fail(throttle, "203.0.113.2", f"other{n}@example.com", 1)
    await _refused(throttle, "203.0.113.2", "dave@example.com")
    await throttle.check("203.0.113.2", "bob@example.com")


async def test_keys_hold_no_email(redis_app: aioredis.Redis, throttle: LoginThrottle) -> None:
    email = f"odd'\"{{}}*?[]\n{uuid.uuid4().hex}@example.com"
    await _fail(throttle, "203.0.113.3", email, 1)
    await throttle.record_success("203.0.113.3", email)
    keys = [k.decode() async for k in redis_app.scan_iter(match="rl:test-login:*", count=1000)]
    assert keys and not any("example.com" in k for k in keys)


async def test_failures_age_out_of_a_short_window(redis_app: aioredis.Redis) -> None:
    throttle = LoginThrottle(
        redis_app,
        window_s=1,
        per_pair=DelayRule(free=2, base_s=60),
        prefix=f"rl:test-login:{uuid.uuid4().hex}",
    )
    await _fail(throttle, "203.0.113.4", "eve@example.com", 2)
    assert await _refused(throttle, "203.0.113.4", "eve@example.com") == 60
    await asyncio.sleep(1.1)
    await throttle.check("203.0.113.4", "eve@example.com")
