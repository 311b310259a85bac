"""Sessions in Redis App, each with a TTL so Redis expires them for us."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import redis.asyncio as aioredis
from pydantic import BaseModel, Field

from rivergen.cache.redis import REDIS_UNAVAILABLE
from rivergen.errors import DependencyUnavailable

_PREFIX = "rivergen:session:"


class Session(BaseModel):
    """What the platform remembers of a signed-in user between requests."""

    session_id: str
    user_id: str
    workspace_id: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class SessionStore:
    """Create, read and revoke sessions; Redis drops each one when its TTL runs out."""

    def __init__(self, client: aioredis.Redis, ttl_s: int = 3600) -> None:
        self._client = client
        self._ttl_s = ttl_s

    async def create(
        self,
        user_id: str,
        workspace_id: str | None = None,
        ttl_s: int | None = None,
        session_id: str | None = None,
    ) -> Session:
        session = Session(
            session_id=session_id or secrets.token_urlsafe(32),
            user_id=user_id,
            workspace_id=workspace_id,
        )
        try:
            await self._client.set(
                _PREFIX + session.session_id,
                session.model_dump_json(),
                ex=ttl_s or self._ttl_s,
            )
        except REDIS_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"redis_app is unavailable: {exc}") from exc
        return session

    async def get(self, session_id: str) -> Session | None:
        try:
            raw = await self._client.get(_PREFIX + session_id)
        except REDIS_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"redis_app is unavailable: {exc}") from exc
        return None if raw is None else Session.model_validate_json(raw)

    async def revoke(self, session_id: str) -> bool:
        try:
            return bool(await self._client.delete(_PREFIX + session_id))
        except REDIS_UNAVAILABLE as exc:
            raise DependencyUnavailable(f"redis_app is unavailable: {exc}") from exc
