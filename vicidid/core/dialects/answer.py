"""An answer in words: its HTTP status, content type and body, in the dialect asked for."""

from __future__ import annotations

from vicidid.core.dialects import json_answer, simple, vicidial
from vicidid.core.dialects.status import text_status
from vicidid.core.outcomes import Outcome

TEXT = "text/plain; charset=utf-8"
TEXT_DIALECTS = {"simple": simple.render, "vicidial": vicidial.render}


def render(
    outcomes: list[Outcome], function: str, dids: list[str], dialect: str, as_json: bool
) -> tuple[int, str, str]:
    """(status, content type, body) of an answer."""
    if as_json:
        status, text = json_answer.render(outcomes, function, dids)
        return status, "application/json", text
    status = text_status(outcomes[-1].kind)
    return status, TEXT, TEXT_DIALECTS[dialect](outcomes)
