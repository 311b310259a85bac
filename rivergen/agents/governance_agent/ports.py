"""What the Governance agent needs from compute."""

from __future__ import annotations

from typing import Protocol

from rivergen.agents.governance_agent.schemas import ScanSample


class SensitiveScanner(Protocol):
    async def scan(self, key: str, sample_size: int, threshold: float) -> ScanSample:
        """Detect sensitive columns in a sample of the dataset version stored at ``key``
        (raw values: detection must see what policies would hide)."""
        ...
