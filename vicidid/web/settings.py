"""The server's settings: each field declared once, with its flag, its environment variable,
its default and its words (`Setting`); `vicidid serve`'s options, the environment's reading,
what the workers receive and docs/deploy.md's table of settings all follow from it.

A flag wins over its environment variable, which wins over the default. Adding a setting is
one field here (`setting(...)`) and one row in docs/deploy.md's table (tests/test_settings.py
holds them to each other); `vicidid serve` then has its option and the workers its value.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import click
from click.core import ParameterSource

from vicidid.auth.throttle import DEFAULT as DEFAULT_THROTTLE
from vicidid.auth.throttle import Limit, parse_limit
from vicidid.core.call import POLICIES
from vicidid.store import astguiclient
from vicidid.store.db import DEFAULT_URL, safe_url
from vicidid.store.replica import check_read_url
from vicidid.web.fallback import check_url
from vicidid.web.protocol import Limits

# the whole Settings, as `vicidid serve` hands them to its worker processes (not a setting)
HANDED_OVER = "VICIDID_SETTINGS"
# request threads per worker where writes lock only their rows (`Settings.threads`)
ROW_LOCK_THREADS = 4


@dataclass(frozen=True)
class Setting:
    """How one field of Settings is set: as a flag's or an environment variable's text,
    read by `kind` (a click type) and then `parse`; `text` gives the value back as such text."""

    flag: str
    env: str
    help: str
    kind: Any = click.STRING
    parse: Callable[[Any], Any] = lambda value: value
    text: Callable[[Any], str] = str
    multiple: bool = False
    unit: str = ""  # in the messages about a bad value
    # declared on the `vicidid` group (for every command), not on `serve`
    on_group: bool = False

    def read(self, text: str) -> Any:
        """The field's value from a flag's or an environment variable's text."""
        try:
            if self.multiple:
                return self.parse(tuple(self.kind.convert(t, None, None) for t in text.split()))
            return self.parse(self.kind.convert(text, None, None))
        except click.BadParameter as error:
            unit = f" (in {self.unit})" if self.unit else ""
            raise ValueError(f"{self.env}{unit}: {error.message}") from error


def setting(default: Any, flag: str, env: str, help: str, **how: Any) -> Any:
    """A field of Settings with its default and how it is set (a `Setting`)."""
    return field(default=default, metadata={"setting": Setting(flag, env, help, **how)})


def _throttle(text: str) -> Limit | None:
    return None if text.strip() == "off" else parse_limit(text)


def _bound(flag_help: str, **how: Any) -> dict[str, Any]:
    return {"help": flag_help, "kind": click.IntRange(min=1), **how}


@dataclass(frozen=True)
class Settings:
    db_url: str = setting(
        DEFAULT_URL,
        "--db",
        "VICIDID_DB",
        "Database URL (sqlite:///FILE or mysql://USER:PASS@HOST/DB).",
        on_group=True,
    )
    astguiclient: str = setting(
        "",
        "--astguiclient",
        "VICIDID_ASTGUICLIENT",
        "Take the database from VICIdial's config (e.g. /etc/astguiclient.conf, its "
        "VARDB_* lines) instead of --db; implies --dialect vicidial.",
        on_group=True,
    )
    dialect: str = setting(
        "simple",
        "--dialect",
        "VICIDID_DIALECT",
        "Wording of text responses.",
        kind=click.Choice(["simple", "vicidial"]),
    )
    trusted_proxies: tuple[str, ...] = setting(
        (),
        "--trusted-proxy",
        "VICIDID_TRUSTED_PROXY",
        "Believe X-Forwarded-For from this IP (the environment: several, apart by spaces).",
        multiple=True,
        text=" ".join,
    )
    # failed logins per client address before it is refused for the rest of the window;
    # None: no limit
    login_throttle: Limit | None = setting(
        DEFAULT_THROTTLE,
        "--login-throttle",
        "VICIDID_LOGIN_THROTTLE",
        "FAILURES/SECONDS: after this many failed logins from one address within the "
        "window, refuse it until the window ends (off: no limit).",
        parse=_throttle,
        text=lambda limit: str(limit or "off"),
    )
    log_format: str = setting(
        "text",
        "--log-format",
        "VICIDID_LOG_FORMAT",
        "Access log lines as key=value text or JSON.",
        kind=click.Choice(["text", "json"]),
    )
    # /metrics: a bearer token to ask for, and/or a listener of its own (host, port)
    metrics_token: str = setting(
        "",
        "--metrics-token",
        "VICIDID_METRICS_TOKEN",
        "Answer /metrics to any client that sends this bearer token (16+ characters).",
    )
    metrics_host: str = setting(
        "", "--metrics-host", "VICIDID_METRICS_HOST", "Serve /metrics on a listener of its own."
    )
    metrics_port: int = setting(
        9180,
        "--metrics-port",
        "VICIDID_METRICS_PORT",
        "Its port (given without --metrics-host: on 127.0.0.1).",
        kind=click.IntRange(1, 65535),
    )
    # VICIdial's non_agent_api.php, for the functions vicidid lacks
    fallback_url: str = setting(
        "",
        "--fallback-url",
        "VICIDID_FALLBACK_URL",
        "VICIdial's own non_agent_api.php: requests for other functions go there unchanged.",
    )
    fallback_timeout: float = setting(
        30.0,
        "--fallback-timeout",
        "VICIDID_FALLBACK_TIMEOUT",
        "Seconds to wait for the fallback before answering that it did not answer.",
        kind=click.FloatRange(min=0, min_open=True),
        unit="seconds",
    )
    # the edge's bounds (web/protocol.py), each per worker process
    max_header_bytes: int = setting(
        Limits.head_bytes,
        "--max-header-bytes",
        "VICIDID_MAX_HEADER_BYTES",
        **_bound("Bytes of a request's line and headers; past them 431 and the connection closed."),
    )
    max_header_lines: int = setting(
        Limits.header_lines,
        "--max-header-lines",
        "VICIDID_MAX_HEADER_LINES",
        **_bound("Header lines of a request; past them 431 and the connection closed."),
    )
    header_timeout: float = setting(
        Limits.head_seconds,
        "--header-timeout",
        "VICIDID_HEADER_TIMEOUT",
        "Seconds to send a request's line and headers; then 408 and the connection closed.",
        kind=click.FloatRange(min=0, min_open=True),
        unit="seconds",
    )
    keep_alive_timeout: int = setting(
        5,
        "--keep-alive-timeout",
        "VICIDID_KEEP_ALIVE_TIMEOUT",
        **_bound("Seconds a connection may wait idle between requests before it is closed."),
    )
    max_connections: int = setting(
        Limits.connections,
        "--max-connections",
        "VICIDID_MAX_CONNECTIONS",
        **_bound("Connections open at once in each worker; past them 503 at once."),
    )
    max_waiting: int = setting(
        256,
        "--max-waiting",
        "VICIDID_MAX_WAITING",
        **_bound("API requests waiting for a request thread in each worker; past them 503."),
    )
    access_log_queue: int = setting(
        10_000,
        "--access-log-queue",
        "VICIDID_ACCESS_LOG_QUEUE",
        **_bound(
            "Access-log lines waiting to be written in each worker; past them dropped, counted."
        ),
    )
    max_body: int = setting(
        1024 * 1024,
        "--max-body",
        "VICIDID_MAX_BODY",
        **_bound("Bytes of a POST body; past them 413, and nothing is passed on."),
    )
    pool_size: int = setting(
        8,
        "--pool-size",
        "VICIDID_POOL_SIZE",
        **_bound("Database connections pooled in each worker."),
    )
    # 0: `vicidid serve` chooses for the database it found (`threads`)
    request_threads: int = setting(
        0,
        "--request-threads",
        "VICIDID_REQUEST_THREADS",
        "Request threads per worker, each keeping a pooled connection (at most --pool-size); "
        "0: chosen for the database (4 where vicidid's tables are InnoDB, else --pool-size).",
        kind=click.IntRange(min=0),
    )
    # a replica for did_info and did_list (store/replica.py), and how far behind it may be
    read_url: str = setting(
        "",
        "--read-url",
        "VICIDID_READ_URL",
        "A replica for did_info and did_list (or slave_db_server: VICIdial's setting).",
    )
    read_max_lag: float = setting(
        1.0,
        "--read-max-lag",
        "VICIDID_READ_MAX_LAG",
        "Seconds the replica may be behind; further behind or down, the primary is read.",
        kind=click.FloatRange(min=0),
        unit="seconds",
    )
    drain_grace: float = setting(
        30.0,
        "--drain-grace",
        "VICIDID_DRAIN_GRACE",
        "Seconds a server drains at most after SIGTERM (/healthz answers DRAINING); 0: none.",
        kind=click.FloatRange(min=0),
        unit="seconds",
    )

    def __post_init__(self) -> None:
        self.limits()  # refuses a bound below 1 now
        if self.max_waiting < 1 or self.access_log_queue < 1:
            raise ValueError("the requests and access-log lines waiting must be 1 or more")
        if self.read_url and self.read_url != "slave_db_server":
            check_read_url(self.read_url)
        if self.read_max_lag < 0:
            raise ValueError("the replica's maximum lag must be 0 seconds or more")
        if self.drain_grace < 0:
            raise ValueError("the drain grace period must be 0 seconds or more")
        if self.keep_alive_timeout < 1:
            raise ValueError("the keep-alive timeout must be 1 second or more")
        if self.max_body < 1 or self.pool_size < 1:
            raise ValueError("the body limit and the pool size must be 1 or more")
        if not 0 <= self.request_threads <= self.pool_size:
            raise ValueError(
                f"the request threads ({self.request_threads}) must be 0 (chosen for the "
                f"database) to the pool size ({self.pool_size}): each keeps a connection"
            )
        if self.dialect not in POLICIES:
            raise ValueError(f"unknown dialect {self.dialect!r}: use simple or vicidial")
        if self.log_format not in ("text", "json"):
            raise ValueError(f"unknown log format {self.log_format!r}: use text or json")
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

    def threads(self, row_locks: bool) -> int:
        """Request threads per worker: `request_threads`, or chosen for the database.

        Where a write locks only its rows (InnoDB), requests seldom wait on each other, and
        threads past a few only take turns at the interpreter lock: 4 spent less CPU per
        request than 8 and answered with a shorter tail (bench/RESULTS.md). Where a write
        locks the whole table (MyISAM), requests wait on each other's locks, and fewer
        threads served fewer requests."""
        if self.request_threads:
            return self.request_threads
        return min(ROW_LOCK_THREADS, self.pool_size) if row_locks else self.pool_size

    @classmethod
    def given(cls, values: Mapping[str, Any]) -> Settings:
        """Settings from the fields given (by a flag or the environment), the rest defaults.

        A metrics port given without a host listens on 127.0.0.1."""
        values = dict(values)
        if "metrics_port" in values and not values.get("metrics_host"):
            values["metrics_host"] = "127.0.0.1"
        if values.get("astguiclient") and "db_url" not in values:
            # the database from VICIdial's own config, and its words unless --dialect says
            values["db_url"] = astguiclient.read(values["astguiclient"]).url()
            values.setdefault("dialect", "vicidial")
        return cls(**values)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from the environment variables set (and not empty), then `overrides`."""
        env = os.environ if env is None else env
        values = {
            name: how.read(env[how.env]) for name, how in fields() if env.get(how.env, "").strip()
        }
        values.update({k: v for k, v in overrides.items() if v not in (None, ())})
        return cls.given(values)

    def dumps(self) -> str:
        """The whole Settings as one line of text, for `loads` in a worker process."""
        return json.dumps({name: how.text(getattr(self, name)) for name, how in fields()})

    @classmethod
    def loads(cls, text: str) -> Settings:
        handed: dict[str, str] = json.loads(text)
        return cls(**{name: SETTINGS[name].read(value) for name, value in handed.items()})

    def body_words(self) -> str:
        """The body limit as the answer past it says it: 1 MiB, 64 KiB, 1000 bytes."""
        for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
            if self.max_body % size == 0:
                return f"{self.max_body // size} {unit}"
        return f"{self.max_body} bytes"

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


def fields() -> Iterator[tuple[str, Setting]]:
    """Each field of Settings with how it is set, in their order."""
    for f in dataclasses.fields(Settings):
        yield f.name, f.metadata["setting"]


SETTINGS: dict[str, Setting] = dict(fields())


def default_text(name: str) -> str:
    """A field's default as its flag would take it ("" when it has none)."""
    return SETTINGS[name].text(Settings.__dataclass_fields__[name].default)


def option(name: str, **changes: Any) -> Callable[[Any], Any]:
    """The click option of a field: its flag, its environment variable, its default."""
    how = SETTINGS[name]
    shown = default_text(name)
    declared: dict[str, Any] = {
        "envvar": how.env,
        "type": how.kind,
        "multiple": how.multiple,
        "default": () if how.multiple else shown,
        "show_default": bool(shown),
        "help": how.help,
    }
    return click.option(how.flag, name, **(declared | changes))


def options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`vicidid serve`'s options of every setting (the group declares --db)."""
    for name, how in reversed(list(fields())):
        if not how.on_group:
            command = option(name)(command)
    return command


GIVEN = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def from_options(ctx: click.Context, **overrides: Any) -> Settings:
    """Settings from a command's options: those given by a flag or the environment, then
    `overrides` (the group's --db, for one)."""
    given: dict[str, Any] = {}
    for name, how in fields():
        if ctx.get_parameter_source(name) in GIVEN:
            given[name] = how.parse(ctx.params[name])
    given.update(overrides)
    return Settings.given(given)
