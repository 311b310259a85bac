"""Planning: a prompt becomes a typed intent, then a plan of tool calls."""
