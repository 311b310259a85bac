"""Ray Serve deployments: thin shells that build their clients from settings and delegate to
the `rivergen` library."""

from deployments.loopback import keep_replica_grpc_on_loopback

keep_replica_grpc_on_loopback()
