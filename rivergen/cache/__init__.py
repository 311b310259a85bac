"""Redis App (cache and sessions) and Redis Socket (the Socket.io adapter): two clients."""

from rivergen.cache.memberships import MembershipCache
from rivergen.cache.redis import connect_redis, ping_redis
from rivergen.cache.sessions import Session, SessionStore

__all__ = ["MembershipCache", "Session", "SessionStore", "connect_redis", "ping_redis"]
