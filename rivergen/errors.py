"""The one exception tree of RiverGen, and its HTTP shape.

::

    RiverGenError                  500 internal_error
    ├── BadRequest                 400 bad_request
    │   └── ChecksumMismatch       400 checksum_mismatch
    ├── Unauthorized               401 unauthorized
    ├── Forbidden                  403 forbidden
    ├── NotFound                   404 not_found
    ├── Conflict                   409 conflict
    ├── PayloadTooLarge            413 payload_too_large
    ├── ValidationFailed           422 validation_failed
    ├── RateLimited                429 rate_limited
    ├── DependencyUnavailable      503 dependency_unavailable
    └── ConfigurationError         (start-up only) configuration_error

Vendor errors (asyncpg, redis, botocore, aiokafka) are translated at the edge where they are
raised, ``raise DependencyUnavailable(...) from exc``; one handler in the gateway maps the tree
to ``{"error": {"code", "message", "request_id"}}``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field


class RiverGenError(Exception):
    """Base of every error the platform raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        # A subclass names the family; a raise site may name the exact case
        # (`NotFound("...", code="dataset_not_found")`).
        self.error_code = code or self.code
        self.details = details or {}


class BadRequest(RiverGenError):
    status = 400
    code = "bad_request"


class ChecksumMismatch(BadRequest):
    code = "checksum_mismatch"


class Unauthorized(RiverGenError):
    status = 401
    code = "unauthorized"


class Forbidden(RiverGenError):
    status = 403
    code = "forbidden"


class NotFound(RiverGenError):
    status = 404
    code = "not_found"


class Conflict(RiverGenError):
    status = 409
    code = "conflict"


class PayloadTooLarge(RiverGenError):
    status = 413
    code = "payload_too_large"


class ValidationFailed(RiverGenError):
    status = 422
    code = "validation_failed"


class RateLimited(RiverGenError):
    status = 429
    code = "rate_limited"

    @property
    def retry_after_s(self) -> int:
        """Whole seconds the client should wait (``details["retry_after_s"]``, at least 1)."""
        return max(1, int(self.details.get("retry_after_s", 1)))


class DependencyUnavailable(RiverGenError):
    """A backing service did not answer in time; the caller may retry."""

    status = 503
    code = "dependency_unavailable"


class ConfigurationError(RiverGenError):
    """Start-up cannot go on: a configured service is unreachable or a setting is wrong."""

    code = "configuration_error"


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. `dataset_not_found`.")
    message: str = Field(description="What went wrong, for a person.")
    request_id: str | None = Field(None, description="The request's `X-Request-ID`.")
    details: dict[str, Any] = Field(default_factory=dict, description="Structured context.")


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorDetail
