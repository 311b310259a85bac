"""Rate limits in Redis App: a per-plan request limiter and a login throttle.

Both count in a sliding-window log (one sorted set per key, scored by Redis's own clock) that
one Lua script reads and writes atomically, in one round trip; the clock of the gateway
replicas never matters.

- :class:`RateLimiter` counts every allowed request against a key (``rl:req:{workspace_id}``)
  and a limit per window that the caller passes (the plan's requests per minute). It fails
  **open**: when Redis is unreachable or slow it logs a warning and allows the request, since
  an outage of the limiter must not become an outage of the API.
- :class:`LoginThrottle` counts failed sign-ins per client address and per e-mail and refuses
  the attempt before the password is checked once either budget is spent. It fails
  **closed**: when Redis is unreachable it raises :class:`~rivergen.errors.DependencyUnavailable`
  (503), since a throttle that lets everything through is a brute-force window.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import math
import time
import unicodedata
import uuid
from typing import Literal

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field

from rivergen.cache.redis import REDIS_UNAVAILABLE
from rivergen.errors import DependencyUnavailable, RateLimited

log = logging.getLogger(__name__)

# KEYS: the sorted sets to count in (every one must have room for the request to pass).
# ARGV: limit, window in microseconds, a unique member token, mode:
#   hit    add the request to every key if all are under the limit (the request limiter)
#   peek   only tell whether all are under the limit (the login check)
#   record add to every key whatever the count, keeping the newest `limit` (a failed login)
# Returns {allowed, highest count, retry after (us), reset after (us)}.
_SLIDING_WINDOW = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local member = ARGV[3]
local mode = ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local counts = {}
local allowed = 1
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  counts[i] = redis.call('ZCARD', key)
  if counts[i] >= limit then allowed = 0 end
end

if mode == 'record' or (mode == 'hit' and allowed == 1) then
  local expire_ms = math.ceil(window / 1000)
  for i, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, now .. ':' .. member)
    counts[i] = counts[i] + 1
    if counts[i] > limit then
      redis.call('ZREMRANGEBYRANK', key, 0, counts[i] - limit - 1)
      counts[i] = limit
    end
    redis.call('PEXPIRE', key, expire_ms)
  end
  if mode == 'record' then
    allowed = 1
    for i = 1, #KEYS do
      if counts[i] >= limit then allowed = 0 end
    end
  end
end

local highest, retry, reset = 0, 0, 0
for i, key in ipairs(KEYS) do
  if counts[i] > highest then highest = counts[i] end
  if counts[i] > 0 then
    local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    reset = math.max(reset, tonumber(newest[2]) + window - now)
  end
  if allowed == 0 and counts[i] >= limit then
    -- The key has room again once its entry at rank count - limit leaves the window.
    local freeing = redis.call('ZRANGE', key, counts[i] - limit, counts[i] - limit, 'WITHSCORES')
    retry = math.max(retry, tonumber(freeing[2]) + window - now)
  end
end
return {allowed, highest, retry, reset}
"""

_Mode = Literal["hit", "peek", "record"]


class RateDecision(BaseModel):
    """The answer to one request against one limit."""

    model_config = ConfigDict(frozen=True)

    allowed: bool = Field(description="Whether the request may go on.")
    limit: int = Field(description="Requests allowed per window.")
    remaining: int = Field(description="Requests left in the window after this one.")
    reset_after_s: float = Field(
        description="Seconds until every counted request has left the window (full budget)."
    )
    retry_after_s: int = Field(
        description="Whole seconds until a request would be allowed again; 0 when allowed."
    )

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-Limit``, ``-Remaining``, ``-Reset`` (delta seconds, rounded up), and
        ``Retry-After`` when the request is refused."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_after_s)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


class _SlidingWindow:
    """The script and its one call; both public classes sit on it."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._script = client.register_script(_SLIDING_WINDOW)

    async def run(
        self, keys: list[str], *, limit: int, window_s: float, mode: _Mode
    ) -> RateDecision:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        window_us = round(window_s * 1_000_000)
        if window_us < 1000:
            raise ValueError(f"window must be at least 1 ms, not {window_s} s")
        allowed, count, retry_us, reset_us = await self._script(
            keys=keys, args=[limit, window_us, uuid.uuid4().hex, mode]
        )
        retry_after_s = 0 if allowed else max(1, math.ceil(int(retry_us) / 1_000_000))
        return RateDecision(
            allowed=bool(allowed),
            limit=limit,
            remaining=max(0, limit - int(count)),
            reset_after_s=int(reset_us) / 1_000_000,
            retry_after_s=retry_after_s,
        )


class RateLimiter:
    """A sliding-window request limit per key, shared by every gateway replica.

    Fails open: if Redis does not answer within ``timeout_s`` (or refuses the connection), the
    request is allowed with a full budget and a warning is logged (at most once a minute).
    """

    _WARN_EVERY_S = 60.0

    def __init__(self, client: aioredis.Redis, *, timeout_s: float = 0.5) -> None:
        self._window = _SlidingWindow(client)
        self._timeout_s = timeout_s
        self._warned_at = -math.inf

    async def hit(self, key: str, *, limit: int, window_s: float = 60.0) -> RateDecision:
        """Count one request against ``key`` if it fits in ``limit`` per ``window_s``.

        A refused request is not counted, so a client that keeps retrying does not push its
        own budget further out.
        """
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._window.run([key], limit=limit, window_s=window_s, mode="hit")
        except REDIS_UNAVAILABLE as exc:
            self._warn(key, exc)
            return RateDecision(
                allowed=True, limit=limit, remaining=limit, reset_after_s=0.0, retry_after_s=0
            )

    def _warn(self, key: str, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned_at >= self._WARN_EVERY_S:
            self._warned_at = now
            log.warning(
                "rate limiter is failing open (redis_app unavailable: %r); key %s allowed",
                exc,
                key,
            )


class LoginThrottle:
    """At most ``max_failures`` failed sign-ins per ``window_s`` per address and per e-mail.

    Call :meth:`check` before the password is checked, :meth:`record_failure` after a wrong
    one and :meth:`reset` after a right one. Keys hold a SHA-256 of the normalized address or
    e-mail, never the e-mail itself and never the password.

    Fails closed: every method raises :class:`DependencyUnavailable` when Redis does not answer.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        max_failures: int = 5,
        window_s: float = 15 * 60,
        timeout_s: float = 2.0,
        prefix: str = "rl:login",
    ) -> None:
        self._client = client
        self._window = _SlidingWindow(client)
        self._max_failures = max_failures
        self._window_s = window_s
        self._timeout_s = timeout_s
        self._prefix = prefix

    async def check(self, address: str, email: str) -> None:
        """Raise :class:`RateLimited` (``code="login_throttled"``, ``details["retry_after_s"]``)
        if the address or the e-mail has spent its failures in the window."""
        decision = await self._run("peek", [self._address_key(address), self._email_key(email)])
        if not decision.allowed:
            raise RateLimited(
                f"too many failed sign-in attempts; try again in {decision.retry_after_s} s",
                code="login_throttled",
                details={"retry_after_s": decision.retry_after_s},
            )

    async def record_failure(self, address: str, email: str) -> None:
        """Count one failed sign-in against both the address and the e-mail."""
        await self._run("record", [self._address_key(address), self._email_key(email)])

    async def reset(self, email: str) -> None:
        """Forget the e-mail's failures (after a successful sign-in); the address keeps its
        count, so one address cannot try many accounts by signing in to its own now and then."""
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._client.delete(self._email_key(email))
        except REDIS_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"redis_app is unavailable: {exc}") from exc

    async def _run(self, mode: _Mode, keys: list[str]) -> RateDecision:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._window.run(
                    keys, limit=self._max_failures, window_s=self._window_s, mode=mode
                )
        except REDIS_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"redis_app is unavailable: {exc}") from exc

    def _email_key(self, email: str) -> str:
        return f"{self._prefix}:email:{_digest(normalize_email(email))}"

    def _address_key(self, address: str) -> str:
        return f"{self._prefix}:addr:{_digest(normalize_address(address))}"


def normalize_email(email: str) -> str:
    """The form two spellings of one e-mail share: NFKC, trimmed, lower-cased."""
    return unicodedata.normalize("NFKC", email).strip().lower()


def normalize_address(address: str) -> str:
    """An IPv4 address as is, an IPv6 one as its /64 (one host usually holds a whole /64), an
    IPv4-mapped IPv6 one as its IPv4; anything else trimmed and lower-cased."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip().lower()
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
