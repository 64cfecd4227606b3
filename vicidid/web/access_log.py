"""The access log: one structured line per API request, never with a password in it.

uvicorn's own access log is off (it would print the query string, password included);
this one logs the path with the query minus `pass`, the caller, the outcome and the time,
as key=value text or as JSON lines (`serve --log-format json`).

A request only hands over its values (`record`, a deque append): the line's own values,
its URL already cut to URL_MAX, never the request's parameters. A thread of this module
turns them into log records every INTERVAL seconds, and the stream handler `configure`
installs writes each such batch at once. At most QUEUE lines wait for that thread: past
them a line is dropped and counted (`vicidid_access_log_dropped_total`), so a log that
cannot keep up costs lines, not memory. Nothing a caller sent can split a text line:
values are printable (`shown`: control characters escaped) and quoted when they hold a
space or a quote, and any other line of the text log has its control characters escaped.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import logging
import threading
import time
from typing import NamedTuple

from vicidid.core.dialects import shown
from vicidid.core.text import escaped, has_surrogate
from vicidid.web import metrics

log = logging.getLogger("vicidid.access")
INTERVAL = 0.05  # seconds between batches: how late a line may appear
QUEUE = 10_000  # lines waiting for the writer at most (`serve --access-log-queue`)


class Entry(NamedTuple):
    """What a request leaves for its access-log line."""

    request_id: str
    ip: str
    method: str
    path: str  # with the query less the password (`core.audit.logged_url`)
    function: str
    user: str
    status: int
    result: str
    dids: int
    seconds: float

    def fields(self) -> dict[str, object]:
        return {
            "request_id": self.request_id,
            "ip": self.ip,
            "method": self.method,
            "path": self.path,
            "function": self.function,
            "user": self.user,
            "status": self.status,
            "result": self.result,
            "dids": self.dids,
            "ms": round(self.seconds * 1000, 1),
        }


class _Writer:
    """Turns the entries requests left into log records, a batch at a time, on a thread."""

    def __init__(self) -> None:
        self.pending: collections.deque[tuple[float, Entry]] = collections.deque()
        self.wake = threading.Event()
        self.lock = threading.Lock()  # one batch at a time, in order
        self.thread: threading.Thread | None = None
        self.limit = QUEUE

    def start(self) -> None:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self.run, name="vicidid-access-log", daemon=True
                )
                self.thread.start()
                atexit.register(self.flush)

    def run(self) -> None:
        while True:
            self.wake.wait(INTERVAL)
            self.wake.clear()
            # a handler whose stream fails (closed, full disk) must not stop the writer
            with contextlib.suppress(Exception):
                self.flush()

    def flush(self) -> None:
        with self.lock:
            if not self.pending:
                return
            while self.pending:
                created, entry = self.pending.popleft()
                record = log.makeRecord(
                    log.name, logging.INFO, "", 0, "request", (), None,
                    extra={"fields": entry.fields(), "batched": True},
                )  # fmt: skip
                record.created, record.msecs = created, int(created % 1 * 1000) + 0.0
                log.handle(record)
            logger: logging.Logger | None = log
            while logger is not None:  # a batch is written at once: flush where it went
                for handler in logger.handlers:
                    handler.flush()
                logger = logger.parent if logger.propagate else None


_writer = _Writer()


def record(entry: Entry) -> None:
    """Leave a request's line to be written (at most INTERVAL seconds later)."""
    if log.isEnabledFor(logging.INFO):
        if len(_writer.pending) >= _writer.limit:
            metrics.ACCESS_LOG_DROPPED.inc()
            return
        _writer.pending.append((time.time(), entry))
        if _writer.thread is None:
            _writer.start()


def flush() -> None:
    """Write every line left so far, now (at shutdown; tests that read the log)."""
    _writer.flush()


def one_line(text: str) -> str:
    """`text` with its control characters escaped: it cannot split a log line."""
    return escaped(text)


class _Seconds:
    """The formatted local time of the last second seen (one strftime per second)."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.formatter = formatter
        self.second, self.text = -1, ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self.second:
            f = self.formatter
            self.text = time.strftime(f.default_time_format, f.converter(record.created))
            self.second = second
        return f"{self.text},{int(record.msecs):03d}"  # the formatter's default_msec_format


class _Formatter(logging.Formatter):
    """logging's Formatter, its default time text made once a second."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._seconds = _Seconds(self)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt:
            return super().formatTime(record, datefmt)
        return self._seconds.format(record)


class KeyValueFormatter(_Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        # a message may quote a caller's value (a function name in a warning)
        return one_line(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        if fields is None:
            return super().format(record)
        parts = [f"{k}={_value(v)}" for k, v in fields.items()]
        return f"{self.formatTime(record)} {record.name} " + " ".join(parts)


class JsonFormatter(_Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None) or {"message": record.getMessage()}
        line = {
            "time": self.formatTime(record),
            "logger": record.name,
            "level": record.levelname,
            **fields,
        }
        text = json.dumps(line, ensure_ascii=False, default=str)
        if not text.isascii() and has_surrogate(text):  # no stream can write one raw
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
        # JSON leaves these raw, and some readers take them for line ends
        if "\u2028" in text or "\u2029" in text or "\x85" in text:
            text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
            text = text.replace("\x85", "\\u0085")
        return text


def _value(value: object) -> str:
    text = shown(str(value)) if value not in (None, "") else "-"
    return json.dumps(text) if (" " in text or '"' in text) else text


class _Stream(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr; the access log's batches held and written in one go when flushed."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not getattr(record, "batched", False):
            self.flush()  # what is held came first
            super().emit(record)  # written at once
            return
        try:
            self.held.append(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            text, self.held = "".join(self.held), []
            try:
                if text:
                    self.stream.write(text)
                super().flush()
            except Exception:  # as StreamHandler.emit does: reported, not raised
                self.handleError(logging.makeLogRecord({"msg": "the access log's lines"}))


def configure(fmt: str = "text", queue: int = QUEUE) -> None:
    """Send vicidid's logs to stderr, as text or JSON lines; at most `queue` access-log
    lines wait to be written."""
    _writer.limit = queue
    handler = _Stream()
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger("vicidid")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
