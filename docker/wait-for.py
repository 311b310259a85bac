"""Wait until a URL answers: ``python docker/wait-for.py URL SECONDS``.

``http://...`` waits for a 2xx answer; ``tcp://host:port`` waits for the port to accept.
Exits 0 when ready, 1 after SECONDS. Used by the start scripts in this folder.
"""

from __future__ import annotations

import socket
import sys
import time
import urllib.request
from urllib.parse import urlsplit


def ready(url: str) -> bool:
    try:
        if url.startswith("tcp://"):
            parts = urlsplit(url)
            with socket.create_connection((parts.hostname or "", parts.port or 0), timeout=2):
                return True
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def main(url: str, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while not ready(url):
        if time.monotonic() > deadline:
            print(f"timed out after {seconds:.0f}s waiting for {url}", file=sys.stderr)
            return 1
        time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
