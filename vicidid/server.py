"""Running the app under uvicorn, in one process or several."""

from __future__ import annotations

import logging
import os

import uvicorn
from starlette.applications import Starlette

from vicidid.app import create_app
from vicidid.settings import Settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def app_from_env() -> Starlette:
    """The factory each uvicorn worker calls; settings travel in the environment."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    return create_app(Settings.from_env())


def run(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> None:
    os.environ["VICIDID_DB"] = settings.db_url
    os.environ["VICIDID_DIALECT"] = settings.dialect
    os.environ["VICIDID_TRUSTED_PROXY"] = " ".join(settings.trusted_proxies)
    uvicorn.run(
        "vicidid.server:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # uvicorn's would print the query string, password included
        log_level="info",
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        server_header=False,
        # X-Forwarded-For is believed only from --trusted-proxy, which the app checks itself;
        # uvicorn's own handling would trust any local peer.
        proxy_headers=False,
    )
