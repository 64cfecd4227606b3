"""Requests for functions vicidid does not implement, passed through to VICIdial's own PHP.

With a fallback URL (`serve --fallback-url`), a shop points the whole
`/vicidial/non_agent_api.php` path at vicidid: the DID functions are answered here, and
every other function (add_lead, update_lead, …) goes to the real `non_agent_api.php`
unchanged — method, query string, the body byte for byte, the headers (less the hop-by-hop
ones), the client's address appended to X-Forwarded-For — and its answer comes back
unchanged, streamed. A fallback that does not answer gets a clear line, never a hang.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse

from vicidid.core.functions import FUNCTIONS
from vicidid.core.outcomes import Kind
from vicidid.core.params import strip_to
from vicidid.fields import FUNCTION

# Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus those the
# proxy itself sets: Host (the fallback's own), Content-Length (recomputed from the body).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length", "via"}
# The server adds its own Date; a second one would be a duplicate header.
NOT_RETURNED = HOP_BY_HOP | {"date"}
DEFAULT_TIMEOUT = 30.0
# Marks what vicidid passed on: a fallback URL that leads back to vicidid (the proxy in
# front sends the path here again) would otherwise pass a request round forever.
VIA = "1.1 vicidid"
# httpx logs each request's full URL at INFO: a forwarded GET's query holds `pass`.
logging.getLogger("httpx").setLevel(logging.WARNING)


def implemented(function: str) -> bool:
    """Does vicidid answer this function itself? (No function at all: vicidid says so.)

    Decided on the name as VICIdial reads it, in every dialect: VICIdial removes every
    character outside `- _ 0-9 a-z A-Z` from `function` first, so `update_did%20` or
    `update_did%00` is update_did to it, and must never reach its PHP past vicidid.
    """
    name = strip_to(FUNCTION.charset, function)
    return not name or name in FUNCTIONS


def check_url(url: str) -> str:
    """The URL if it can be a fallback, else ValueError with the reason."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"the fallback URL must be http(s)://HOST/…/non_agent_api.php, not {url!r}"
        )
    if parts.query or parts.fragment:
        raise ValueError("the fallback URL takes no query string: the caller's is passed on")
    return url


def shown_url(url: str) -> str:
    """The URL without any user or password in it, for banners and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()


def _listed(value: str) -> set[str]:
    return {token.strip().lower() for token in value.split(",") if token.strip()}


def forwarded_headers(request: Request, peer: str) -> list[tuple[str, str]]:
    """The caller's headers as the fallback gets them."""
    named_by_connection = _listed(request.headers.get("connection", ""))
    headers = [
        (name, value)
        for name, value in request.headers.items()
        if name not in NOT_FORWARDED
        and name not in named_by_connection
        and name != "x-forwarded-for"
    ]
    earlier = ", ".join(request.headers.getlist("x-forwarded-for"))
    headers.append(("x-forwarded-for", f"{earlier}, {peer}" if earlier else peer))
    via = ", ".join(request.headers.getlist("via"))
    headers.append(("via", f"{via}, {VIA}" if via else VIA))
    if "host" in request.headers and "x-forwarded-host" not in request.headers:
        headers.append(("x-forwarded-host", request.headers["host"]))
    return headers


@dataclass
class Failed:
    """The fallback did not answer: the outcome to render, and why (for the log)."""

    kind: Kind
    seconds: float
    error: str


class Fallback:
    """One HTTP client to the fallback, kept for the server's life (its connections pool)."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = check_url(url)
        self.timeout = timeout
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def forward(self, request: Request, body: bytes) -> StreamingResponse | Failed:
        if any(VIA in via for via in request.headers.getlist("via")):
            return Failed(Kind.FALLBACK_DOWN, self.timeout, "the fallback URL leads back here")
        peer = request.client.host if request.client else ""
        query = request.scope.get("query_string", b"").decode("latin-1")
        outgoing = self._http.build_request(
            request.method,
            self.url + (f"?{query}" if query else ""),
            headers=forwarded_headers(request, peer),
            content=body,
        )
        try:
            upstream = await self._http.send(outgoing, stream=True)
        except httpx.TimeoutException as error:
            return Failed(Kind.FALLBACK_TIMEOUT, self.timeout, type(error).__name__)
        except httpx.HTTPError as error:
            return Failed(Kind.FALLBACK_DOWN, self.timeout, f"{type(error).__name__}: {error}")
        response = StreamingResponse(
            _relay(upstream),
            status_code=upstream.status_code,
            background=BackgroundTask(upstream.aclose),
        )
        named_by_connection = _listed(upstream.headers.get("connection", ""))
        response.raw_headers = [
            (name, value)
            for name, value in upstream.headers.raw
            if name.decode("latin-1").lower() not in NOT_RETURNED
            and name.decode("latin-1").lower() not in named_by_connection
        ]
        return response


async def _relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    """The fallback's body as it arrives, still encoded as it was sent (gzip stays gzip).

    If the fallback stops part-way, the answer simply ends there: its status line has gone
    out already, and the caller sees a short body rather than a made-up one.
    """
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.HTTPError:
        return
