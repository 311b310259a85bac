"""An HTTP GET that cannot be turned against the platform's own network (SSRF).

Every hop (the first request and each redirect, followed here by hand, at most
``max_redirects``) must be http(s), and its host must resolve only to public addresses unless
an admin allow-listed it. The request then goes to the exact address that was checked, with the
original ``Host`` header and TLS server name (certificates are still verified against the host
name), so no second DNS answer can redirect it. Proxies from the environment are ignored: they
would connect on our behalf to wherever the URL says.
"""

from __future__ import annotations

import asyncio

import httpx

from rivergen.connectors.addresses import check_destination
from rivergen.errors import BadRequest, Forbidden, PayloadTooLarge
from rivergen.settings import ConnectorSettings

_SCHEMES = {"http": 80, "https": 443}


def _check_scheme(url: httpx.URL) -> int:
    """The URL's port, once its scheme is http or https."""
    if url.scheme not in _SCHEMES:
        raise Forbidden(
            f"the scheme {url.scheme!r} is not allowed: only http and https",
            code="scheme_not_allowed",
            details={"scheme": url.scheme},
        )
    if not url.host:
        raise BadRequest("the URL has no host", code="invalid_url")
    return url.port or _SCHEMES[url.scheme]


def _parse(url: str) -> httpx.URL:
    try:
        return httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise BadRequest(f"not a valid URL: {exc}", code="invalid_url") from None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the source is larger than {limit} bytes (RIVERGEN_CONNECTORS__HTTP_MAX_BYTES)",
        code="source_too_large",
        details={"max_bytes": limit},
    )


async def _read_body(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    # Decoded bytes are counted, so a small compressed body cannot expand past the limit.
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


async def _one_hop(
    client: httpx.AsyncClient, url: httpx.URL, settings: ConnectorSettings
) -> tuple[httpx.URL | None, bytes]:
    """GET ``url`` through its checked address: (the redirect target, b"") or (None, body)."""
    port = _check_scheme(url)
    destination = await check_destination(url.host, port, settings.http_allow_hosts)
    pinned = url.copy_with(host=destination.address)
    headers = {"Host": url.netloc.decode("ascii"), "Accept": "text/csv, */*;q=0.5"}
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    async with client.stream("GET", pinned, headers=headers, extensions=extensions) as response:
        if response.is_redirect:
            location = response.headers.get("location", "")
            return url.join(location), b""
        if response.status_code >= 400:
            raise BadRequest(
                f"the source answered HTTP {response.status_code}",
                code="source_http_error",
                details={"status": response.status_code},
            )
        return None, await _read_body(response, settings.http_max_bytes)


async def fetch(url: str, settings: ConnectorSettings) -> bytes:
    """The body of ``GET url``, every hop checked (see the module doc). Raises Forbidden
    (``scheme_not_allowed``, ``destination_not_allowed``, ``too_many_redirects``),
    PayloadTooLarge (``source_too_large``) or BadRequest (``source_timeout`` past
    ``http_timeout_s`` for the whole read, ``source_unreachable``, ``source_http_error``)."""
    current = _parse(url)
    limit = settings.http_timeout_s
    try:
        # One deadline for the whole read, so a server that drips bytes cannot hold it open.
        async with (
            asyncio.timeout(limit),
            httpx.AsyncClient(
                trust_env=False, follow_redirects=False, timeout=httpx.Timeout(limit)
            ) as client,
        ):
            for _ in range(settings.max_redirects + 1):
                target, body = await _guarded_hop(client, current, settings)
                if target is None:
                    return body
                current = target
    except TimeoutError:
        raise BadRequest(f"the source took longer than {limit} s", code="source_timeout") from None
    raise Forbidden(
        f"more than {settings.max_redirects} redirects",
        code="too_many_redirects",
        details={"max_redirects": settings.max_redirects},
    )


async def _guarded_hop(
    client: httpx.AsyncClient, url: httpx.URL, settings: ConnectorSettings
) -> tuple[httpx.URL | None, bytes]:
    try:
        return await _one_hop(client, url, settings)
    except httpx.InvalidURL as exc:
        raise BadRequest(f"not a valid URL: {exc}", code="invalid_url") from None
    except httpx.TimeoutException:
        raise TimeoutError from None
    except httpx.HTTPError as exc:
        raise BadRequest(
            f"the source did not answer: {type(exc).__name__}", code="source_unreachable"
        ) from exc
