"""The API path as a plain ASGI callable: read the request, hand it to the pipeline, answer.

Every request to the API path comes here first (`App` in app.py), past Starlette's
middleware and router, and builds no Request or Response object: the query string and
the body are read from the ASGI scope and `receive`, and the answer goes out in two
`send` calls. Only a request passed on to the fallback goes through Starlette's objects.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
import random
import re
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from sqlalchemy import exc as sa_exc
from starlette.requests import Request

from vicidid.auth.hash_slots import Follow
from vicidid.core import audit, text
from vicidid.core.call import POLICIES
from vicidid.core.dialects.answer import TEXT, render
from vicidid.core.login import Claims
from vicidid.core.outcomes import Kind, Outcome
from vicidid.core.params import Params, merge
from vicidid.core.pipeline import Incoming, Paused, Pipeline, Reply
from vicidid.errors import VicididError
from vicidid.fields import FUNCTION, NEW_DIDS, USER
from vicidid.store import sizes
from vicidid.store import tables as t
from vicidid.web import access_log, forms, json_body, metrics
from vicidid.web.fallback import Failed, Fallback, implemented
from vicidid.web.hashers import Hashers
from vicidid.web.settings import Settings
from vicidid.web.threads import Threads

log = logging.getLogger("vicidid")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body

METHODS = ("GET", "POST", "HEAD")
NOT_ALLOWED: Answer = (
    405,
    [
        (b"allow", ", ".join(METHODS).encode()),
        (b"content-length", b"18"),
        (b"content-type", TEXT.encode()),
    ],
    b"Method Not Allowed",
)
# the request headers read here; of each, the first one given (X-Forwarded-For: all of them)
WANTED = frozenset(
    {b"authorization", b"content-length", b"content-type", b"idempotency-key", b"x-forwarded-for"}
)


# How VICIdial's PHP answers a failed or locked login (its answer starts with one of these)
PHP_FAILED_LOGIN = re.compile(rb"^\s*ERROR: (Login incorrect|Too many login attempts)")


class TooLarge(VicididError):
    pass


class Gone(VicididError):
    """The client went away before its body arrived: there is nobody to answer."""


def request_headers(scope: Scope) -> dict[bytes, str]:
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in WANTED:
            if name not in found:
                found[name] = value.decode("latin-1")
            elif name == b"x-forwarded-for":  # several lines are one list (RFC 9110 §5.3)
                found[name] += ", " + value.decode("latin-1")
    return found


async def read_body(receive: Receive, declared: str, limit: int) -> bytes:
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Gone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        if not message.get("more_body", False):
            return b"".join([*chunks, chunk]) if chunks else chunk
        chunks.append(chunk)


def read_form(body: bytes, content_type: str) -> list[tuple[str, str]]:
    media = content_type.split(";")[0].strip().lower()
    if body and (media == "application/json" or media.endswith("+json")):
        return json_body.pairs(body, NEW_DIDS.names)
    return forms.form_pairs(body, content_type)


def basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        user, _, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")  # a broken header is a failed login, not a crash
    return user, password


def client_ip(peer: str, forwarded_for: str, trusted: tuple[str, ...]) -> str:
    if peer not in trusted:
        return peer
    # Walk X-Forwarded-For from the nearest hop; the first untrusted address is the client.
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return peer


def wants_json(query: list[tuple[str, str]], form: list[tuple[str, str]]) -> bool:
    value = dict(query).get("format", dict(form).get("format", ""))
    return value.lower() == "json"


def respond(reply: Reply, dialect: str, as_json: bool) -> Answer:
    """The answer; an answer that cannot be rendered is the server-fault answer instead."""
    try:
        return _respond(reply, dialect, as_json)
    except Exception:
        log.exception("rendering the answer failed (function=%s)", reply.function)
        final = reply.outcomes[-1]
        fault = Outcome(Kind.INTERNAL_ERROR, function=final.function, user=final.user)
        return _respond(Reply([fault], reply.function, reply.params), dialect, as_json)


def _respond(reply: Reply, dialect: str, as_json: bool) -> Answer:
    final = reply.outcomes[-1]
    headers: list[tuple[bytes, bytes]] = []
    if final.kind is Kind.REPLAYED:
        stored = final.extra["stored"]
        status, media_type, text = stored.status, stored.content_type, stored.body
        headers.append((b"idempotent-replayed", b"true"))
    else:
        if final.kind is Kind.BUSY or final.kind is Kind.OVERLOADED:
            headers.append((b"retry-after", b"1"))
        status, media_type, text = render(
            reply.outcomes, reply.function, reply.dids, dialect, as_json
        )
    body = text.encode()
    if reply.read_from:  # --read-url: where a read was read (replica or primary)
        headers.append((b"vicidid-read-from", reply.read_from.encode()))
    headers += [
        (b"content-type", media_type.encode("latin-1")),
        (b"content-length", str(len(body)).encode()),
    ]
    return status, headers, body


async def answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def request_id() -> str:
    """Twelve hex digits to find one request by in the logs (unique, not secret)."""
    return f"{random.getrandbits(48):012x}"


class Api:
    """The ASGI callable for the API path (GET, POST and HEAD; anything else is 405)."""

    def __init__(self, settings: Settings, pipeline: Pipeline, threads: int) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.dialect = settings.dialect
        self.filtering = POLICIES[settings.dialect].filtering
        # the database connection's codec: an identifier it cannot carry is refused here
        self.codec = sizes.link_codec(pipeline.engine)
        # Whether the user name column has a name's characters, read from the database on
        # first use: MariaDB refuses to compare a latin1 column with text latin1 lacks.
        self.held: dict[str, Callable[[str], bool]] | None = None
        # The pipeline blocks on the database, so it runs on threads: each keeps a pooled
        # connection, so there are no more of them than connections (Settings.threads).
        self.threads = Threads(threads, "vicidid-request")
        # Passwords not yet verified are hashed here, not on the request threads: a flood
        # of wrong passwords then queues for these (half the cores) while requests whose
        # password is already verified go on.
        self.hashers = Hashers(max(1, (os.cpu_count() or 2) // 2))
        self.fallback = (
            Fallback(settings.fallback_url, settings.fallback_timeout)
            if settings.fallback_url
            else None
        )

    async def close(self) -> None:
        self.threads.shutdown()
        if self.fallback is not None:
            await self.fallback.aclose()
        self.hashers.shutdown()
        access_log.flush()

    async def handled(self, incoming: Incoming) -> Reply:
        """The pipeline's answer; where it pauses at a password check, the check runs on
        the hashers (or the same check under way is waited for) and the pipeline goes on."""
        step = await self.threads.run(self.pipeline.start, incoming)
        while isinstance(step, Paused):
            verdict = None
            if isinstance(step.check, Follow):  # its verdict is remembered once it is done
                await asyncio.wrap_future(step.check.done)
            else:
                verdict = await self.hashers.check(step.check)
            step = await self.threads.run(self.pipeline.resume, step, verdict)
        return step

    def columns_held(self) -> dict[str, Callable[[str], bool]] | None:
        """The check of a user name against its column (None, and asked again next time,
        while the database cannot be read)."""
        try:
            room = sizes.load(self.pipeline.engine).room(t.users.name, "user")
        except sa_exc.SQLAlchemyError:
            return None
        return {} if room is None else {USER.name: room.carries}

    def refused(
        self, outcome: Outcome, query: list[tuple[str, str]], form: list[tuple[str, str]]
    ) -> Reply:
        """The reply to a request refused at the edge (no pipeline involved)."""
        params = Params(merge(query, form), filtering=self.filtering)
        return Reply([outcome], outcome.function, params)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in METHODS:
            await answer(send, *NOT_ALLOWED)
            return
        started = time.perf_counter()
        rid = request_id()
        headers = request_headers(scope)
        query = forms.query_pairs(scope["query_string"].decode("latin-1"))
        client = scope.get("client")
        peer = client[0] if client else ""
        ip = client_ip(peer, headers.get(b"x-forwarded-for", ""), self.settings.trusted_proxies)
        body, form, malformed = b"", [], ""
        if method == "POST":
            try:
                body = await read_body(
                    receive, headers.get(b"content-length", ""), self.settings.max_body
                )
                form = read_form(body, headers.get(b"content-type", ""))
            except TooLarge:
                too_large = Outcome(Kind.TOO_LARGE, extra={"size": self.settings.body_words()})
                reply = self.refused(too_large, query, [])
                await self.deliver(send, scope, reply, wants_json(query, []), ip, rid, started)
                return
            except json_body.MalformedJson as error:
                malformed = str(error)
            except Gone:
                return
        if self.threads.waiting() >= self.settings.max_waiting:
            # the request threads are behind: refuse at once rather than queue without end
            params = Params(merge(query, form), filtering=self.filtering)
            function = params.text(FUNCTION)
            outcome = Outcome(Kind.OVERLOADED, function=function, user=params.shown(USER)[:20])
            reply = Reply([outcome], function, params)
            await self.deliver(send, scope, reply, wants_json(query, form), ip, rid, started)
            return
        path = scope["path"]
        if self.fallback is not None:
            # the function as the pipeline would read it: PHP's merge, the dialect's filter
            params = Params(merge(query, form), filtering=self.filtering)
            function = params.text(FUNCTION)
            if not implemented(function):
                await self.pass_on(scope, receive, send, body, params, ip, started, rid)
                return
        as_json = wants_json(query, form)
        basic = basic_credentials(headers.get(b"authorization", ""))
        if malformed:
            reply = self.refused(Outcome(Kind.MALFORMED_BODY, value=malformed), query, [])
            await self.deliver(send, scope, reply, wants_json(query, []), ip, rid, started)
            return
        if self.held is None and not self.filtering:
            self.held = await self.threads.run(self.columns_held)
        refusal = text.refused(merge(query, form), basic, self.filtering, self.codec, self.held)
        if refusal is not None:
            reply = self.refused(refusal, query, form)
            await self.deliver(send, scope, reply, as_json, ip, rid, started)
            return
        dialect = self.dialect
        incoming = Incoming(
            query,
            form,
            ip,
            basic,
            path,
            idempotency_key=headers.get(b"idempotency-key", "").strip(),
            as_json=as_json,
            dialect=dialect,
        )
        await self.deliver(send, scope, await self.handled(incoming), as_json, ip, rid, started)

    async def deliver(
        self,
        send: Send,
        scope: Scope,
        reply: Reply,
        as_json: bool,
        ip: str,
        rid: str,
        started: float,
        dialect: str = "",
    ) -> None:
        """Answer (in the server's dialect unless told), and leave the request's metrics
        and access-log line."""
        status, response_headers, content = respond(reply, dialect or self.dialect, as_json)
        response_headers.append((b"x-request-id", rid.encode()))
        self.log(rid, ip, scope, reply, status, started)
        await answer(send, status, response_headers, content)

    async def watched(
        self, body: AsyncIterable[Any], ip: str, claims: Claims
    ) -> AsyncIterator[Any]:
        """The fallback's body, unchanged; unless it starts with a failed login's line, the
        request's claim on the throttle goes back once it has been passed on."""
        failed, first = False, True
        try:
            async for chunk in body:
                if first and isinstance(chunk, bytes):
                    failed = PHP_FAILED_LOGIN.search(chunk[:200]) is not None
                first = False
                yield chunk
        finally:
            if not failed:
                await self.threads.run(self.pipeline.give_back_passed_on, ip, claims)

    def log(
        self, rid: str, ip: str, scope: Scope, reply: Reply, status: int, started: float
    ) -> None:
        """The request's metrics and its access-log line."""
        final = reply.outcomes[-1]
        metrics.observe(reply, time.perf_counter() - started)
        access_log.record(
            access_log.Entry(
                rid,
                ip,
                scope["method"],
                reply.url or audit.logged_url(scope["path"], reply.params),
                reply.function,
                final.user,
                status,
                final.kind.value,
                len(reply.dids),
                time.perf_counter() - started,
            )
        )

    async def pass_on(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        body: bytes,
        params: Params,
        ip: str,
        started: float,
        rid: str,
    ) -> None:
        """Answer with the fallback's answer, or with a clear line when it gives none.

        The request is counted on its address's throttle window before it goes, as a guess
        is, and given back unless PHP answers a failed login: an address over the throttle
        is refused here, with the line VICIdial's PHP prints for a failed login."""
        assert self.fallback is not None
        function = params.text(FUNCTION)
        user = params.shown(USER)[:20]
        as_json = wants_json(list(params.raw.items()), [])
        claims = await self.threads.run(self.pipeline.claim_passed_on, ip)
        if claims is None:
            reply = Reply([Outcome(Kind.THROTTLED, function=function, user=user)], function, params)
            # PHP's own line for a failed login, whatever the server's dialect
            await self.deliver(send, scope, reply, as_json, ip, rid, started, "vicidial")
            return
        forwarded = await self.fallback.forward(Request(scope, receive), body)
        if isinstance(forwarded, Failed):
            await self.threads.run(self.pipeline.give_back_passed_on, ip, claims)
            log.warning("fallback did not answer (function=%s): %s", function, forwarded.error)
            outcome = Outcome(
                forwarded.kind,
                function=function,
                user=user,
                value=function,
                extra={"seconds": f"{forwarded.seconds:g}"},
            )
            reply = Reply([outcome], function, params)
            await self.deliver(send, scope, reply, as_json, ip, rid, started)
            return
        reply = Reply([Outcome(Kind.FORWARDED, function=function, user=user)], function, params)
        forwarded.headers["x-request-id"] = rid
        forwarded.body_iterator = self.watched(forwarded.body_iterator, ip, claims)
        self.log(rid, ip, scope, reply, forwarded.status_code, started)
        await forwarded(scope, receive, send)
