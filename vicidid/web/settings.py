"""Server settings, built once and passed in (a flag wins over its environment variable)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vicidid.auth.throttle import DEFAULT as DEFAULT_THROTTLE
from vicidid.auth.throttle import Limit, parse_limit
from vicidid.core.call import POLICIES
from vicidid.store import astguiclient
from vicidid.store.db import DEFAULT_URL, safe_url
from vicidid.web.fallback import check_url
from vicidid.web.protocol import Limits

# Each bound's environment variable, its field and its type (`serve --help` names the options)
BOUNDS = {
    "VICIDID_MAX_HEADER_BYTES": ("max_header_bytes", int),
    "VICIDID_MAX_HEADER_LINES": ("max_header_lines", int),
    "VICIDID_HEADER_TIMEOUT": ("header_timeout", float),
    "VICIDID_KEEP_ALIVE_TIMEOUT": ("keep_alive_timeout", int),
    "VICIDID_MAX_CONNECTIONS": ("max_connections", int),
    "VICIDID_MAX_WAITING": ("max_waiting", int),
    "VICIDID_ACCESS_LOG_QUEUE": ("access_log_queue", int),
}


@dataclass(frozen=True)
class Settings:
    db_url: str = DEFAULT_URL
    dialect: str = "simple"
    trusted_proxies: tuple[str, ...] = ()
    max_body: int = 1024 * 1024
    pool_size: int = 8
    # /metrics: a bearer token to ask for, and/or a listener of its own (host, port)
    metrics_token: str = ""
    metrics_host: str = ""
    metrics_port: int = 9180
    fallback_url: str = ""  # VICIdial's non_agent_api.php, for the functions vicidid lacks
    fallback_timeout: float = 30.0
    # failed logins per client address before it is refused for the rest of the window;
    # None: no limit
    login_throttle: Limit | None = DEFAULT_THROTTLE
    # the edge's bounds (web/protocol.py), each per worker process
    max_header_bytes: int = Limits.head_bytes  # a request's line and headers
    max_header_lines: int = Limits.header_lines
    header_timeout: float = Limits.head_seconds  # seconds to send them
    keep_alive_timeout: int = 5  # seconds a connection may wait idle between requests
    max_connections: int = Limits.connections  # open at once
    max_waiting: int = 256  # API requests waiting for a request thread; past them 503
    access_log_queue: int = 10_000  # access-log lines waiting to be written; past them dropped

    def __post_init__(self) -> None:
        self.limits()  # refuses a bound below 1 now
        if self.max_waiting < 1 or self.access_log_queue < 1:
            raise ValueError("the requests and access-log lines waiting must be 1 or more")
        if self.keep_alive_timeout < 1:
            raise ValueError("the keep-alive timeout must be 1 second or more")
        if self.dialect not in POLICIES:
            raise ValueError(f"unknown dialect {self.dialect!r}: use simple or vicidial")
        for proxy in self.trusted_proxies:
            ipaddress.ip_address(proxy)  # refuses a typo now rather than trusting nobody later
        token = self.metrics_token
        if token and not (len(token) >= 16 and token.isascii() and token.isprintable()):
            raise ValueError("the metrics token must be 16 or more printable ASCII characters")
        if " " in token:
            raise ValueError("the metrics token must not hold a space")
        if self.metrics_host:
            ipaddress.ip_address(self.metrics_host)
        if not 1 <= self.metrics_port <= 65535:
            raise ValueError(f"metrics port {self.metrics_port} is not 1 to 65535")
        if self.fallback_url:
            check_url(self.fallback_url)
        if not self.fallback_timeout > 0:
            raise ValueError("the fallback timeout must be a number of seconds above 0")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        db_url, dialect = env.get("VICIDID_DB"), "simple"
        if not db_url and env.get("VICIDID_ASTGUICLIENT"):  # VICIdial's config, its words
            db_url, dialect = astguiclient.read(env["VICIDID_ASTGUICLIENT"]).url(), "vicidial"
        values: dict[str, Any] = {
            "db_url": db_url or DEFAULT_URL,
            "dialect": env.get("VICIDID_DIALECT") or dialect,
            "trusted_proxies": tuple(env.get("VICIDID_TRUSTED_PROXY", "").split()),
            "metrics_token": env.get("VICIDID_METRICS_TOKEN", ""),
            "metrics_host": env.get("VICIDID_METRICS_HOST", ""),
        }
        if env.get("VICIDID_METRICS_PORT", "").isdigit():
            values["metrics_port"] = int(env["VICIDID_METRICS_PORT"])
        if env.get("VICIDID_FALLBACK_URL"):
            values["fallback_url"] = env["VICIDID_FALLBACK_URL"]
        if env.get("VICIDID_FALLBACK_TIMEOUT"):
            try:
                values["fallback_timeout"] = float(env["VICIDID_FALLBACK_TIMEOUT"])
            except ValueError as error:
                raise ValueError("VICIDID_FALLBACK_TIMEOUT must be a number of seconds") from error
        throttle = env.get("VICIDID_LOGIN_THROTTLE", "").strip()
        if throttle:
            values["login_throttle"] = None if throttle == "off" else parse_limit(throttle)
        if env.get("VICIDID_POOL_SIZE", "").isdigit():
            values["pool_size"] = max(1, int(env["VICIDID_POOL_SIZE"]))
        for name, (field, kind) in BOUNDS.items():
            if env.get(name, "").strip():
                try:
                    values[field] = kind(env[name])
                except ValueError as error:
                    raise ValueError(f"{name} must be a number, not {env[name]!r}") from error
        values.update({k: v for k, v in overrides.items() if v not in (None, ())})
        return cls(**values)

    def limits(self) -> Limits:
        """The bounds web/protocol.py keeps on each connection."""
        return Limits(
            self.max_header_bytes, self.max_header_lines, self.header_timeout, self.max_connections
        )

    def __repr__(self) -> str:  # the URL may hold the database password
        return (
            f"Settings(db_url={safe_url(self.db_url)!r}, dialect={self.dialect!r}, "
            f"trusted_proxies={self.trusted_proxies!r})"
        )
