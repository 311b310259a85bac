"""Ray Serve deployments: thin shells that build their clients from settings and delegate to
the `rivergen` library."""
