"""The access log: one structured line per API request, never with a password in it.

uvicorn's own access log is off (it would print the query string, password included);
this one logs the path with the query minus `pass`, the caller, the outcome and the time,
as key=value text or as JSON lines (`serve --log-format json`).
"""

from __future__ import annotations

import json
import logging

from vicidid.core.dialects import shown

log = logging.getLogger("vicidid.access")


def record(fields: dict[str, object]) -> None:
    log.info("request", extra={"fields": fields})


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        if fields is None:
            return super().format(record)
        parts = [f"{k}={_value(v)}" for k, v in fields.items()]
        return f"{self.formatTime(record)} {record.name} " + " ".join(parts)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None) or {"message": record.getMessage()}
        line = {
            "time": self.formatTime(record),
            "logger": record.name,
            "level": record.levelname,
            **fields,
        }
        return json.dumps(line, ensure_ascii=False, default=str)


def _value(value: object) -> str:
    text = shown(str(value)) if value not in (None, "") else "-"
    return json.dumps(text) if (" " in text or '"' in text) else text


def configure(fmt: str = "text") -> None:
    """Send vicidid's logs to stderr, as text or JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger("vicidid")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
