"""Rate limits in Redis App: a per-plan request limiter and a login throttle.

Both count in a sliding-window log (one sorted set per key, scored by Redis's own clock) that
one Lua script reads and writes atomically, in one round trip; the clock of the gateway
replicas never matters.

- :class:`RateLimiter` counts every allowed request against a key (``rl:req:{workspace_id}``)
  and a limit per window that the caller passes (the plan's requests per minute). It fails
  **open**: when Redis is unreachable or slow it logs a warning and allows the request, since
  an outage of the limiter must not become an outage of the API.
- :class:`LoginThrottle` counts failed sign-ins per account and address, per account and per
  address, and past each one's free failures asks for progressive delays (never a lockout),
  refusing an attempt that comes too soon before the password is checked. It fails
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


# KEYS: the failure logs of one sign-in (its pair, its account, its address).
# ARGV: window in microseconds, mode (peek | record), a unique member token, most entries kept.
# Returns, for each key, {failures in the window, microseconds since the newest (-1: none)}.
_FAILURE_LOG = """
local window = tonumber(ARGV[1])
local mode = ARGV[2]
local member = ARGV[3]
local keep = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if mode == 'record' then
    redis.call('ZADD', key, now, now .. ':' .. member)
    local n = redis.call('ZCARD', key)
    if n > keep then redis.call('ZREMRANGEBYRANK', key, 0, n - keep - 1) end
    redis.call('PEXPIRE', key, math.ceil(window / 1000))
  end
  local n = redis.call('ZCARD', key)
  local since = -1
  if n > 0 then
    local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    since = now - tonumber(newest[2])
  end
  out[#out + 1] = n
  out[#out + 1] = since
end
return out
"""


class DelayRule(BaseModel):
    """Failures allowed before any delay, then a delay from the last failure that doubles with
    each further one: ``base_s * 2 ** (failures - free)``, at most ``max_s``."""

    model_config = ConfigDict(frozen=True)

    free: int = Field(ge=1, description="Failures in the window before any delay.")
    base_s: float = Field(1.0, gt=0, description="The first delay.")
    max_s: float = Field(15 * 60, gt=0, description="The longest delay.")

    def wait_s(self, failures: int, since_last_s: float) -> float:
        """Seconds still to wait before the next attempt (0: none)."""
        if failures < self.free:
            return 0.0
        delay = min(self.base_s * 2.0 ** min(failures - self.free, 32), self.max_s)
        return max(0.0, delay - since_last_s)


class LoginThrottle:
    """Progressive delays on failed sign-ins (OWASP's authentication guidance), counted in
    three logs over a sliding window (15 minutes by default):

    - **an account from one address** (``per_pair``, 5 free failures): someone mistyping
      their own password, or guessing one account from one place;
    - **an account from every address** (``per_account``, 10 free failures): a botnet
      guessing one account;
    - **an address for every account** (``per_address``, 20 free failures): one place
      spraying passwords over many accounts.

    The last two do not slow an address that signed in to the account before (within
    ``known_ttl_s``, 30 days): others' failures cannot keep an owner out of their account.

    Past its free failures a log asks for a delay from its last failure that doubles with
    each one (1 s, 2 s, 4 s ... at most 15 minutes); an attempt before the delay has passed is
    refused before the password is looked at, and is not counted. Nothing ever locks an
    account or an address outright, and failures age out of the window.

    Call :meth:`check` before the password is checked, :meth:`record_failure` after a wrong
    one and :meth:`record_success` after a right one. Keys hold SHA-256 digests of the
    normalized address and e-mail, never the e-mail itself and never the password.

    Fails closed: every method raises :class:`DependencyUnavailable` when Redis does not answer.
    """

    _KEEP = 64  # entries kept per log: enough to reach the longest delay

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        window_s: float = 15 * 60,
        per_pair: DelayRule = DelayRule(free=5),
        per_account: DelayRule = DelayRule(free=10),
        per_address: DelayRule = DelayRule(free=20),
        known_ttl_s: int = 30 * 24 * 3600,
        timeout_s: float = 2.0,
        prefix: str = "rl:login",
    ) -> None:
        self._client = client
        self._script = client.register_script(_FAILURE_LOG)
        self._window_s = window_s
        self._rules = (per_pair, per_account, per_address)
        self._known_ttl_s = known_ttl_s
        self._timeout_s = timeout_s
        self._prefix = prefix

    async def check(self, address: str, email: str) -> None:
        """Raise :class:`RateLimited` (``code="login_throttled"``, ``details["retry_after_s"]``)
        while any of the attempt's logs asks for a delay."""
        keys = self._keys(address, email)
        try:
            async with asyncio.timeout(self._timeout_s):
                logs = await self._run(keys, "peek")
                known = bool(await self._client.sismember(self._known_key(email), keys[-1]))
        except REDIS_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"redis_app is unavailable: {exc}") from exc
        pair, account, by_address = (
            rule.wait_s(n, since) for rule, (n, since) in zip(self._rules, logs, strict=True)
        )
        # An address that signed in to this account before is its owner's: only its own
        # failures on it slow it, not a botnet's on the account, nor a neighbour's behind the
        # same address (a shared proxy or NAT) on other accounts.
        wait = max(pair, 0.0 if known else max(account, by_address))
        if wait > 0:
            retry_after_s = max(1, math.ceil(wait))
            raise RateLimited(
                f"too many failed sign-in attempts; try again in {retry_after_s} s",
                code="login_throttled",
                details={"retry_after_s": retry_after_s},
            )

    async def record_failure(self, address: str, email: str) -> None:
        """Count one failed sign-in in its three logs."""
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._run(self._keys(address, email), "record")
        except REDIS_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"redis_app is unavailable: {exc}") from exc

    async def record_success(self, address: str, email: str) -> None:
        """Forget this address's failures on the account and remember the address as the
        account's own (the account-wide delay no longer applies to it). The address keeps its
        count: one address cannot try many accounts by signing in to its own now and then."""
        keys = self._keys(address, email)
        known = self._known_key(email)
        try:
            async with asyncio.timeout(self._timeout_s):
                async with self._client.pipeline(transaction=True) as pipe:
                    pipe.delete(keys[0])
                    pipe.sadd(known, keys[-1])
                    pipe.expire(known, self._known_ttl_s)
                    await pipe.execute()
        except REDIS_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"redis_app is unavailable: {exc}") from exc

    async def _run(self, keys: list[str], mode: str) -> list[tuple[int, float]]:
        raw = await self._script(
            keys=keys[:3],
            args=[round(self._window_s * 1_000_000), mode, uuid.uuid4().hex, self._KEEP],
        )
        values = [int(v) for v in raw]
        return [
            (n, math.inf if since < 0 else since / 1_000_000)
            for n, since in zip(values[::2], values[1::2], strict=True)
        ]

    def _keys(self, address: str, email: str) -> list[str]:
        """The pair's, the account's and the address's logs, then the address's digest."""
        account = _digest(normalize_email(email))
        where = _digest(normalize_address(address))
        return [
            f"{self._prefix}:pair:{account}:{where}",
            f"{self._prefix}:email:{account}",
            f"{self._prefix}:addr:{where}",
            where,
        ]

    def _known_key(self, email: str) -> str:
        return f"{self._prefix}:known:{_digest(normalize_email(email))}"


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
