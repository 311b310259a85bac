"""Ray Serve deployments: thin shells that build their clients from settings and delegate to
the `rivergen` library, with the Ray adapters of `compute` (loading it sends the replica's
metrics to Ray)."""

import compute as _compute  # noqa: F401  # Ray's metric sink, for every replica
from deployments.loopback import keep_replica_grpc_on_loopback

keep_replica_grpc_on_loopback()
