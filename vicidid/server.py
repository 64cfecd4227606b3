"""Running the app under uvicorn, in one process or several."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import uvicorn
from starlette.applications import Starlette

from vicidid import access_log
from vicidid.app import create_app
from vicidid.settings import Settings


def app_from_env() -> Starlette:
    """The factory each uvicorn worker calls; settings travel in the environment."""
    access_log.configure(os.environ.get("VICIDID_LOG_FORMAT", "text"))
    return create_app(Settings.from_env())


def run(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    log_format: str = "text",
) -> None:
    os.environ["VICIDID_LOG_FORMAT"] = log_format
    if workers > 1:
        # each worker writes its metrics here; /metrics adds them up
        metrics_dir = tempfile.mkdtemp(prefix="vicidid-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        atexit.register(shutil.rmtree, metrics_dir, True)
    os.environ["VICIDID_DB"] = settings.db_url
    os.environ["VICIDID_DIALECT"] = settings.dialect
    os.environ["VICIDID_TRUSTED_PROXY"] = " ".join(settings.trusted_proxies)
    os.environ["VICIDID_LOGIN_THROTTLE"] = str(settings.login_throttle or "off")
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
