"""The HTTP edge: read the request, hand it to the pipeline, write the dialect's answer."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, TypeVarTuple

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from vicidid import API_PATH
from vicidid.auth.throttle import LoginThrottle
from vicidid.core.audit import logged_url
from vicidid.core.call import POLICIES
from vicidid.core.dialects import json_answer, simple, vicidial
from vicidid.core.dialects.status import text_status
from vicidid.core.fields import FUNCTION, NEW_DIDS, USER
from vicidid.core.outcomes import Kind, Outcome
from vicidid.core.params import Params, merge
from vicidid.core.pipeline import Incoming, Pipeline, Reply
from vicidid.errors import VicididError
from vicidid.store.db import make_engine
from vicidid.web import access_log, forms, json_body, metrics, openapi
from vicidid.web.fallback import Failed, Fallback, implemented
from vicidid.web.settings import Settings

log = logging.getLogger("vicidid")
T = TypeVar("T")
Ts = TypeVarTuple("Ts")

TEXT = "text/plain; charset=utf-8"
TEXT_DIALECTS = {"simple": simple.render, "vicidial": vicidial.render}


class TooLarge(VicididError):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # kept for the fallback, which passes the body on unchanged
    return body


async def read_form(request: Request, limit: int) -> list[tuple[str, str]]:
    body = await read_body(request, limit)
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if body and (media == "application/json" or media.endswith("+json")):
        return json_body.pairs(body, NEW_DIDS.names)
    return forms.form_pairs(body, content_type)


def basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        user, _, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")  # a broken header is a failed login, not a crash
    return user, password


def client_ip(request: Request, trusted: tuple[str, ...]) -> str:
    peer = request.client.host if request.client else ""
    if peer not in trusted:
        return peer
    # Walk X-Forwarded-For from the nearest hop; the first untrusted address is the client.
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return peer


def wants_json(query: list[tuple[str, str]], form: list[tuple[str, str]]) -> bool:
    value = dict(query).get("format", dict(form).get("format", ""))
    return value.lower() == "json"


def render(
    outcomes: list[Outcome], function: str, dids: list[str], dialect: str, as_json: bool
) -> tuple[int, str, str]:
    """(status, content type, body) of an answer."""
    if as_json:
        status, text = json_answer.render(outcomes, function, dids)
        return status, "application/json", text
    status = text_status(outcomes[-1].kind)
    return status, TEXT, TEXT_DIALECTS[dialect](outcomes)


def respond(reply: Reply, dialect: str, as_json: bool) -> Response:
    """The answer; an answer that cannot be rendered is the server-fault answer instead."""
    try:
        return _respond(reply, dialect, as_json)
    except Exception:
        log.exception("rendering the answer failed (function=%s)", reply.function)
        final = reply.outcomes[-1]
        fault = Outcome(Kind.INTERNAL_ERROR, function=final.function, user=final.user)
        return _respond(Reply([fault], reply.function, reply.params), dialect, as_json)


def _respond(reply: Reply, dialect: str, as_json: bool) -> Response:
    final = reply.outcomes[-1]
    if final.kind is Kind.REPLAYED:
        stored = final.extra["stored"]
        return Response(
            stored.body,
            status_code=stored.status,
            headers={"Idempotent-Replayed": "true", "content-type": stored.content_type},
        )
    status, media_type, body = render(reply.outcomes, reply.function, reply.dids, dialect, as_json)
    return Response(body, status_code=status, headers={"content-type": media_type})


def create_app(settings: Settings, pipeline: Pipeline | None = None) -> Starlette:
    if pipeline is None:
        engine = make_engine(settings.db_url, pool_size=settings.pool_size)
        throttle = LoginThrottle(settings.login_throttle) if settings.login_throttle else None
        pipeline = Pipeline(engine, POLICIES[settings.dialect], throttle)
    # The pipeline blocks on the database, so it runs on threads: as many as there are
    # pooled connections (more would only queue for a connection while contending for the
    # interpreter lock). asyncio's executor hands a request over in about half the time
    # Starlette's run_in_threadpool takes.
    threads = ThreadPoolExecutor(settings.pool_size, thread_name_prefix="vicidid-request")
    fallback = (
        Fallback(settings.fallback_url, settings.fallback_timeout)
        if settings.fallback_url
        else None
    )
    filtering = POLICIES[settings.dialect].filtering
    # Passwords not yet verified are hashed here, not on the request threads: a flood of
    # wrong passwords then queues for these (half the cores) while requests whose
    # password is already verified go on.
    hashers = ThreadPoolExecutor(
        max(1, (os.cpu_count() or 2) // 2), thread_name_prefix="vicidid-hash"
    )

    async def on_thread(fn: Callable[[*Ts], T], *args: *Ts) -> T:
        return await asyncio.get_running_loop().run_in_executor(threads, fn, *args)

    async def handled(incoming: Incoming) -> Reply:
        reply = await on_thread(pipeline.handle, incoming)
        if reply.pending is not None:
            loop = asyncio.get_running_loop()
            incoming.verdict = await loop.run_in_executor(hashers, reply.pending)
            reply = await on_thread(pipeline.handle, incoming)
        return reply

    async def api(request: Request) -> Response:
        started = time.perf_counter()
        request_id = secrets.token_hex(6)
        query = forms.query_pairs(request.scope.get("query_string", b"").decode("latin-1"))
        malformed = ""
        try:
            form = await read_form(request, settings.max_body) if request.method == "POST" else []
        except TooLarge:
            reply = Reply([Outcome(Kind.TOO_LARGE)], "", Params({}, filtering=filtering))
            return respond(reply, settings.dialect, wants_json(query, []))
        except json_body.MalformedJson as error:
            form, malformed = [], str(error)
        if fallback is not None:
            # the function as the pipeline would read it: PHP's merge, the dialect's filter
            params = Params(merge(query, form), filtering=filtering)
            function = params.text(FUNCTION)
            if not implemented(function):
                return await pass_on(request, params, function, started, request_id)
        if malformed:
            reply = Reply(
                [Outcome(Kind.MALFORMED_BODY, value=malformed)], "", Params({}, filtering=filtering)
            )
            return respond(reply, settings.dialect, wants_json(query, []))
        as_json = wants_json(query, form)
        incoming = Incoming(
            query,
            form,
            client_ip(request, settings.trusted_proxies),
            basic_credentials(request),
            request.url.path,
            idempotency_key=request.headers.get("idempotency-key", "").strip(),
            as_json=as_json,
            defer_hashing=True,
            render=lambda outcomes, function, dids: render(
                outcomes, function, dids, settings.dialect, as_json
            ),
        )
        reply = await handled(incoming)
        response = respond(reply, settings.dialect, as_json)
        metrics.observe(reply, time.perf_counter() - started)
        response.headers["x-request-id"] = request_id
        access_log.record(
            {
                "request_id": request_id,
                "ip": incoming.ip,
                "method": request.method,
                "path": logged_url(request.url.path, reply.params),
                "function": reply.function,
                "user": reply.outcomes[-1].user,
                "status": response.status_code,
                "result": reply.outcomes[-1].kind.value,
                "dids": len(reply.dids),
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
        )
        return response

    async def pass_on(
        request: Request, params: Params, function: str, started: float, request_id: str
    ) -> Response:
        """Answer with the fallback's answer, or with a clear line when it gives none."""
        assert fallback is not None
        answer = await fallback.forward(request, getattr(request, "_body", b""))
        if isinstance(answer, Failed):
            log.warning("fallback did not answer (function=%s): %s", function, answer.error)
            outcome = Outcome(
                answer.kind,
                function=function,
                user=params.shown(USER)[:20],
                value=function,
                extra={"seconds": f"{answer.seconds:g}"},
            )
            reply = Reply([outcome], function, params)
            response = respond(reply, settings.dialect, wants_json(list(params.raw.items()), []))
        else:
            reply = Reply([Outcome(Kind.FORWARDED, function=function)], function, params)
            response = answer
        metrics.observe(reply, time.perf_counter() - started)
        response.headers["x-request-id"] = request_id
        access_log.record(
            {
                "request_id": request_id,
                "ip": client_ip(request, settings.trusted_proxies),
                "method": request.method,
                "path": logged_url(request.url.path, params),
                "function": function,
                "user": params.shown(USER)[:20],
                "status": response.status_code,
                "result": reply.outcomes[-1].kind.value,
                "dids": 0,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
        )
        return response

    async def healthz(request: Request) -> Response:
        ok = await on_thread(pipeline.healthy)
        return PlainTextResponse(
            "OK\n" if ok else "DATABASE UNAVAILABLE\n", status_code=200 if ok else 503
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        threads.shutdown(wait=True)
        if fallback is not None:
            await fallback.aclose()
        hashers.shutdown(wait=True)

    app = Starlette(
        routes=[
            Route(API_PATH, api, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            *metrics.routes(settings),
            *openapi.routes(),
        ],
        lifespan=lifespan,
    )
    # A redirect to the path without its slash would be an absolute URL built from the
    # Host header, carrying the query string, password included: answer 404 instead.
    app.router.redirect_slashes = False
    app.state.pipeline = pipeline
    app.state.settings = settings
    return app
