"""The Socket.io cluster: what a replica runs (see :mod:`rivergen.realtime.server`)."""

from rivergen.realtime.admission import Admission, Member
from rivergen.realtime.listener import ListenerState, SubscribedRedisManager, SubscriptionWatch
from rivergen.realtime.server import (
    READINESS_PATH,
    SOCKET_PATH,
    SocketApp,
    SocketCluster,
    SocketReadiness,
    create_socket_app,
)

__all__ = [
    "READINESS_PATH",
    "SOCKET_PATH",
    "Admission",
    "ListenerState",
    "Member",
    "SocketApp",
    "SocketCluster",
    "SocketReadiness",
    "SubscribedRedisManager",
    "SubscriptionWatch",
    "create_socket_app",
]
