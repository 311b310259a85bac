"""HTTP load with wrk (Debian's package): requests per second and latency percentiles."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import httpx
from pydantic import BaseModel

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


class LoadResult(BaseModel):
    label: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    connections: int
    duration_s: int
    errors: int


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def wait_for(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer 200 within {timeout_s} s")


def run_wrk(
    label: str,
    url: str,
    connections: int = 16,
    duration_s: int = 10,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    # Warm up (JIT-free, but connection pools, replica routing tables and caches fill).
    header_args = [arg for k, v in (headers or {}).items() for arg in ("-H", f"{k}: {v}")]
    subprocess.run(
        ["wrk", "-t1", "-c4", "-d2s", *header_args, url], capture_output=True, check=True
    )
    threads = min(2, connections)  # wrk needs a connection per thread
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--latency",
        *header_args,
        url,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out)[1])  # type: ignore[index]
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|timeout) (\d+)", out))
    return LoadResult(
        label=label,
        requests_per_s=rps,
        p50_ms=p50,
        p99_ms=p99,
        connections=connections,
        duration_s=duration_s,
        errors=errors,
    )
