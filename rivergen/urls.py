"""Addresses of backing services, safe to show (no credentials)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit


def safe_address(url: str) -> str:
    """Where a URL or DSN points (host:port, or a unix socket path), without credentials."""
    parts = urlsplit(url)
    if parts.hostname:
        return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    socket_dir = parse_qs(parts.query).get("host")  # libpq style: ?host=/path/to/dir
    if socket_dir:
        return socket_dir[0]
    return parts.path or "(unknown address)"
