"""People's roles in workspaces, cached in Redis App: every authenticated request asks for one,
and a query through PgBouncer costs more than the rest of authorization.

Correct under concurrent changes without trusting time: each person has a generation in Redis
(``rivergen:acl:gen:<user>``), moved on by every change of their memberships, before the change
commits and again after; an entry (``rivergen:acl:role:<user>:<workspace>``) holds the role with
the generation that was current *before* it was read from Postgres, and counts only while that
generation is still current. A role read before a change and cached after it carries the old
generation, so it is never used; a change that cannot reach Redis does not commit. Entries
expire after ``ttl_s`` (bounding what a lost post-commit bump could leave behind), and without
Redis every lookup goes to Postgres.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

import redis.asyncio as aioredis

from rivergen.cache.redis import REDIS_UNAVAILABLE
from rivergen.errors import DependencyUnavailable

log = logging.getLogger(__name__)

_GENERATION = "rivergen:acl:gen:"
_ROLE = "rivergen:acl:role:"
_NONE = "-"


class MembershipCache:
    def __init__(self, redis: aioredis.Redis | None, ttl_s: int = 300) -> None:
        """``ttl_s`` 0: nothing is cached (every lookup asks Postgres)."""
        self._redis = redis if ttl_s > 0 else None
        self._ttl_s = ttl_s

    async def role(
        self, user: UUID, workspace: UUID, load: Callable[[], Awaitable[str | None]]
    ) -> str | None:
        """``user``'s role in ``workspace`` (None: not a member), from the cache while it is
        current, else ``load()`` (Postgres) and cached."""
        if self._redis is None:
            return await load()
        generation_key, key = _GENERATION + str(user), f"{_ROLE}{user}:{workspace}"
        try:
            generation, entry = await self._redis.mget(generation_key, key)
        except REDIS_UNAVAILABLE:
            return await load()
        current = _text(generation) or "0"
        if entry is not None:
            of, _, cached = _text(entry).partition("|")
            if of == current:
                return None if cached == _NONE else cached
        role = await load()
        with contextlib.suppress(*REDIS_UNAVAILABLE):
            await self._redis.set(key, f"{current}|{role or _NONE}", ex=self._ttl_s)
        return role

    async def changing(self, *users: UUID) -> None:
        """Call inside the transaction that changes ``users``' memberships, before it commits:
        what is cached of them stops counting (503 ``dependency_unavailable`` if Redis App
        cannot be told: then the change must not commit)."""
        if self._redis is None:
            return
        try:
            await self._bump(users)
        except REDIS_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"redis_app is unavailable: {exc}") from exc

    async def changed(self, *users: UUID) -> None:
        """Call after the change committed: what was cached meanwhile (read before the commit)
        stops counting too. Best effort: entries expire anyway."""
        if self._redis is None:
            return
        try:
            await self._bump(users)
        except REDIS_UNAVAILABLE as exc:
            log.warning("memberships of %s changed but Redis App missed it (%s)", users, exc)

    async def _bump(self, users: tuple[UUID, ...]) -> None:
        assert self._redis is not None
        async with self._redis.pipeline(transaction=False) as pipe:
            for user in users:
                pipe.incr(_GENERATION + str(user))
            await pipe.execute()


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value
