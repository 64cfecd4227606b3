"""The HTTP app: the API path answered by web/endpoint.py, everything else by Starlette."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from vicidid.about import API_PATH
from vicidid.core.call import POLICIES
from vicidid.core.pipeline import Pipeline
from vicidid.store import replica
from vicidid.store.db import make_engine
from vicidid.web import drain, metrics, openapi
from vicidid.web.endpoint import Api
from vicidid.web.settings import Settings


class App(Starlette):
    """Starlette, with requests for the API path handed straight to the API's callable.

    The other paths (/docs, /healthz, /metrics, /openapi.json) go through Starlette's
    middleware and router as usual; the API path skips them, and is also a route, so
    that it answers the same when the app is mounted under a root path.
    """

    api: Api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == API_PATH and not scope.get("root_path"):
            await self.api(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(settings: Settings, pipeline: Pipeline | None = None) -> Starlette:
    if pipeline is None:
        engine = make_engine(settings.db_url, pool_size=settings.pool_size)
        pipeline = Pipeline(engine, POLICIES[settings.dialect], settings.login_throttle)
        pipeline.replica = replica.of(
            settings.read_url, engine, settings.db_url, settings.read_max_lag, settings.pool_size
        )
    # `vicidid serve` has chosen the request threads for the database; else one per connection
    api = Api(settings, pipeline, settings.request_threads or settings.pool_size)

    async def healthz(request: Request) -> Response:
        if drain.STATE.draining:  # the balancer stops sending here (web/drain.py)
            drain.STATE.health_checks += 1
            return PlainTextResponse("DRAINING\n", status_code=503)
        ok = await api.threads.run(pipeline.healthy)
        return PlainTextResponse(
            "OK\n" if ok else "DATABASE UNAVAILABLE\n", status_code=200 if ok else 503
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await api.close()
        if pipeline.replica is not None:
            pipeline.replica.dispose()

    app = App(
        routes=[
            Route(API_PATH, api, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            *metrics.routes(settings),
            *openapi.routes(),
        ],
        lifespan=lifespan,
    )
    app.api = api
    # A redirect to the path without its slash would be an absolute URL built from the
    # Host header, carrying the query string, password included: answer 404 instead.
    app.router.redirect_slashes = False
    app.state.pipeline = pipeline
    app.state.settings = settings
    return app
