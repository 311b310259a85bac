"""``Idempotency-Key`` on unsafe requests (POST, PUT, PATCH, DELETE).

A client that retries a request (a timeout, a lost connection, a replica that died) sends the
same key each time. Per workspace and principal, within ``idempotency.ttl_s``:

- the first request runs; its effect, the key and its response commit in one transaction;
- a retry with the same method, path, query and body gets the stored status and body again
  (header ``Idempotent-Replayed: true``), and nothing runs twice;
- the same key with another request is 422 ``idempotency_key_reused``;
- a retry while the first is still running is 409 ``idempotency_in_progress`` (retry later).

A request that ends in a server error (5xx) stores nothing: its retry runs again. Routes without
a workspace (sign-up, sign-in) and requests that change nothing ignore the key.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rivergen.accounts.principal import Principal
from rivergen.api.errors import error_response
from rivergen.errors import DependencyUnavailable
from rivergen.idempotency import IdempotencyClaim, StoredResponse, reset_claim, set_claim
from rivergen.settings import IdempotencySettings

HEADER = b"idempotency-key"
REPLAYED_HEADER = b"idempotent-replayed"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SANE_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def _principal_of(scope: Scope) -> str | None:
    principal: Principal | None = scope.get("state", {}).get("principal")
    if principal is None:
        return None
    kind, ident = principal.actor
    return f"{kind}:{ident}"


def fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope["query_string"], body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class IdempotencyMiddleware:
    """Pure ASGI. Requests without the header pass untouched; with it, the body is read once
    (at most ``idempotency.max_body_bytes``) and the response is held until the key's
    transaction has committed, so a client never sees a success that was not recorded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE:
            await self.app(scope, receive, send)
            return
        raw = next((v for k, v in scope["headers"] if k == HEADER), None)
        if raw is None:
            await self.app(scope, receive, send)
            return
        key = raw.decode("latin-1")
        if not _SANE_KEY.match(key):
            await _send_error(
                send,
                400,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            return
        settings: IdempotencySettings = scope["app"].state.settings.idempotency
        try:
            body = await _read_body(receive, settings.max_body_bytes)
        except _BodyTooLarge:
            await _send_error(
                send,
                413,
                "idempotency_body_too_large",
                f"a request with Idempotency-Key may carry at most {settings.max_body_bytes} bytes",
            )
            return
        except _ClientGone:
            return
        claim = IdempotencyClaim(
            key, fingerprint(scope, body), settings.ttl_s, lambda: _principal_of(scope)
        )
        await self._run(claim, scope, _replaying(body, receive), send)

    async def _run(
        self, claim: IdempotencyClaim, scope: Scope, receive: Receive, send: Send
    ) -> None:
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        token = set_claim(claim)
        try:
            await self.app(scope, receive, hold)
        except BaseException:
            await claim.abandon()
            raise
        finally:
            reset_claim(token)
        if claim.replay is not None:
            await _send_stored(send, claim.replay)
            return
        start = next((m for m in held if m["type"] == "http.response.start"), None)
        if start is None:  # no answer at all: nothing to record
            await claim.abandon()
            return
        body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
        content_type = next(
            (v.decode("latin-1") for k, v in start.get("headers", []) if k == b"content-type"),
            None,
        )
        try:
            await claim.finish(start["status"], content_type, body)
        except DependencyUnavailable as exc:
            # The effect did not commit: the client must not take this for a success.
            await _send_error(send, 503, exc.error_code, exc.message)
            return
        for message in held:
            await send(message)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_stored(send: Send, stored: StoredResponse) -> None:
    headers: list[tuple[bytes, bytes]] = [
        (b"content-length", str(len(stored.body)).encode()),
        (REPLAYED_HEADER, b"true"),
    ]
    if stored.content_type:
        headers.append((b"content-type", stored.content_type.encode("latin-1")))
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body})


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    response = error_response(status, code, message)
    extra: dict[str, Any] = {}
    if status == 503:
        extra = {"retry-after": "1"}
    headers = [*response.raw_headers, *((k.encode(), v.encode()) for k, v in extra.items())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": bytes(response.body)})
