"""A replica on a loopback node listens on loopback only.

Ray 2.60 starts a gRPC server in every Serve replica for calls between deployments and binds it
to every interface (``add_port_to_grpc_server(server, "[::]:0")`` in
``ray.serve._private.replica``), with no setting for the address. Every other listener of a
node follows the node's address, so on a node whose address is loopback (``rivergen up``'s
local head) this one alone would listen beyond the machine. :func:`keep_replica_grpc_on_loopback`
wraps that call so that, on such a node, the server binds 127.0.0.1 (the address the node
advertises for it); on any other node nothing changes.

It runs when the package is imported: a replica imports its deployment's module (from
``deployments``) when it unpickles the deployment, before it starts that server. The replica
module is patched only when already loaded (a replica process), so nothing else pays for
importing it. If a Ray release moves the call, nothing is patched and the platform-up test's
check of listening sockets names the replicas.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Callable
from typing import Any

REPLICA_MODULE = "ray.serve._private.replica"
ALL_INTERFACES = "[::]:"


def _node_is_loopback() -> bool:
    import ray

    try:
        address = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
        return ipaddress.ip_address(address).is_loopback
    except (ValueError, RuntimeError):
        return False


def keep_replica_grpc_on_loopback() -> None:
    replica = sys.modules.get(REPLICA_MODULE)
    original: Callable[[Any, str], int] | None = getattr(replica, "add_port_to_grpc_server", None)
    if original is None or getattr(original, "rivergen_loopback", False):
        return

    def add_port(server: Any, address: str) -> int:
        if address.startswith(ALL_INTERFACES) and _node_is_loopback():
            address = "127.0.0.1:" + address.removeprefix(ALL_INTERFACES)
        return original(server, address)

    add_port.rivergen_loopback = True  # type: ignore[attr-defined]
    replica.add_port_to_grpc_server = add_port  # type: ignore[union-attr]
