"""One place that maps the error tree (and FastAPI's own errors) to the API's error shape."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from rivergen.acl import required_access
from rivergen.api.request_id import current_request_id
from rivergen.api.security import authorize
from rivergen.errors import ErrorDetail, ErrorResponse, RateLimited, RiverGenError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "dependency_unavailable",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorDetail(
            code=code, message=message, request_id=current_request_id(), details=details or {}
        )
    )
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


async def _platform_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RiverGenError)
    if exc.status >= 500:
        log.error("%s: %s", exc.error_code, exc.message)
    headers = {"Retry-After": "1"} if exc.status == 503 else None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return error_response(exc.status, exc.error_code, exc.message, exc.details, headers)


async def _refused_before_authorization(request: Request) -> JSONResponse | None:
    """The answer to a request the framework refused before its route ran (a body that does not
    parse, a parameter of the wrong type), if its caller may not call the route at all.

    FastAPI reads and validates the body before it runs the route's dependencies, the
    authorization among them; without this, a caller with no credentials would learn how the
    route validates its input (422/400) instead of being told to sign in (401).
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return None
    access = required_access(request.method, route.path)
    if access is None or access == "public":
        return None
    try:
        await authorize(request)
    except RiverGenError as refused:
        return await _platform_error(request, refused)
    return None


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    refused = await _refused_before_authorization(request)
    if refused is not None:
        return refused
    # Echo where and why, never the offending input (it may hold a secret).
    problems = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return error_response(
        422, "validation_failed", "the request is not valid", {"errors": problems}
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI's "There was an error parsing the body"
        refused = await _refused_before_authorization(request)
        if refused is not None:
            return refused
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, code, str(exc.detail), headers=headers)


async def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "an unexpected error occurred")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RiverGenError, _platform_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
