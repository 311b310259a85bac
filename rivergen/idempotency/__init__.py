"""Idempotency keys: a retried unsafe request replays its first answer, never its effect."""

from rivergen.idempotency.claim import (
    IdempotencyClaim,
    IdempotentReplay,
    StoredResponse,
    current_claim,
    reset_claim,
    set_claim,
    settle_pending,
)

__all__ = [
    "IdempotencyClaim",
    "IdempotentReplay",
    "StoredResponse",
    "current_claim",
    "reset_claim",
    "set_claim",
    "settle_pending",
]
