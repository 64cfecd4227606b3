"""Response dialects: the only place that knows the words.

Each dialect is a message catalogue (one literal template per outcome variant) and a
renderer. `simple` speaks the tutorials' wording, `vicidial` VICIdial 2.14's, `json`
an object per request. The api_log rows are always VICIdial's (its reports read them).
"""

from __future__ import annotations

from collections.abc import Callable

from vicidid.core.functions import FUNCTIONS
from vicidid.core.outcomes import CopyCounts, Kind, Outcome
from vicidid.core.text import escaped
from vicidid.fields import CHARSET_HINTS, CHARSET_WORDS, Field

THINGS = {"server": "server", "ingroup": "in-group", "menu": "call menu", "user": "user"}

# Which functions VICIdial words as "ADD DIDS" rather than "UPDATE DIDS", and which only view.
ADDING = {f.name for f in FUNCTIONS.values() if f.adds_dids}
VIEWING = {f.name for f in FUNCTIONS.values() if not f.changes_dids}


SHOWN_MAX = 100


def shown(text: str, whole: bool = False) -> str:
    """A caller's value echoed in an answer or a log row: one printable line, not too long.

    Control characters are shown as their escapes (`\x1b`, `\n`), never obeyed. `whole`
    keeps the length (the vicidial dialect echoes values whole, as VICIdial); the line
    stays one line either way.
    """
    clean = escaped(text)
    return clean if whole or len(clean) <= SHOWN_MAX else clean[: SHOWN_MAX - 3] + "..."


def variant(o: Outcome) -> str:
    """The catalogue key of an outcome: its kind, refined where the words differ."""
    k = o.kind
    if k is Kind.DID_NOT_FOUND and o.function == "copy_did":
        return "did_not_found/copy"
    if k is Kind.NO_PERMISSION:
        if o.function in ADDING:
            return "no_permission/add"
        if o.function in VIEWING:
            return "no_permission/view"
    if k is Kind.COPY_SUMMARY and not o.ok:
        return "copy_summary/none"
    if k is Kind.COPY_EXISTS and o.single:
        return "copy_exists/single"
    if k is Kind.INVALID_TEXT:
        return f"invalid_text/{o.extra.get('why') or 'charset'}"
    return o.kind.value


def _fn(o: Outcome, whole: bool) -> str:
    fn = o.function
    if o.field is not None and o.field.key == "menu_id" and fn == "add_did":
        fn = "update_did"  # VICIdial prints add_did's menu error with this prefix
    return shown(fn, whole)


def _reason(o: Outcome, whole: bool) -> str:
    f = o.field
    if f is None:
        return ""
    return f.copy_reason if (o.function == "copy_did" and f.copy_reason) else f.reason


def _echo(pick: Callable[[Outcome], str]) -> Callable[[Outcome, bool], str]:
    """A caller's value, cut short unless `whole`."""
    return lambda o, whole: shown(pick(o), whole)


def _of_field(pick: Callable[[Field], str]) -> Callable[[Outcome, bool], str]:
    return lambda o, whole: pick(o.field) if o.field else ""


def _count(pick: Callable[[CopyCounts], int]) -> Callable[[Outcome, bool], int]:
    return lambda o, whole: pick(o.counts) if o.counts else 0


def _extra(name: str) -> Callable[[Outcome, bool], object]:
    return lambda o, whole: o.extra.get(name, "")


# What each name a template may use stands for.
VALUES: dict[str, Callable[[Outcome, bool], object]] = {
    "fn": _fn,
    "user": _echo(lambda o: o.user),
    "did": _echo(lambda o: o.did),
    "value": _echo(lambda o: o.value),
    "name": lambda o, whole: o.name or (o.field.name if o.field else ""),
    "other": _extra("other"),
    "rule": lambda o, whole: o.extra.get("rule") or (o.field.rule() if o.field else ""),
    "charset": _of_field(lambda f: CHARSET_WORDS.get(f.charset, "the allowed characters")),
    "hint": _of_field(lambda f: CHARSET_HINTS.get(f.charset, "")),
    "thing": _of_field(lambda f: THINGS.get(f.ref or "", "row")),
    "reason": _reason,
    "data": _echo(lambda o: o.extra.get("data", o.value)),
    "did_id": lambda o, whole: "" if o.did_id is None else o.did_id,
    "added": _count(lambda c: c.added),
    "existed": _count(lambda c: c.existed),
    "invalid": _count(lambda c: c.invalid),
    "failed": _count(lambda c: c.failed),
    "total": _count(lambda c: c.total),
    "line": _extra("line"),
    "count": _extra("count"),
    "seconds": _extra("seconds"),
    "size": _extra("size"),
}


class Context(dict[str, object]):
    """The values a template may use, each worked out when the template first names it:
    a line names two or three of them, and rendering runs for every request."""

    def __init__(self, o: Outcome, whole: bool) -> None:
        super().__init__()
        self.outcome = o
        self.whole = whole

    def __missing__(self, name: str) -> object:
        value = VALUES[name](self.outcome, self.whole)
        self[name] = value
        return value


def context(o: Outcome, whole: bool = False) -> dict[str, object]:
    """The values a template may use; echoed values cut short unless `whole`."""
    return Context(o, whole)


LIST_COLUMNS = (
    "did_id",
    "did_pattern",
    "did_description",
    "did_active",
    "did_route",
    "extension",
    "voicemail_ext",
    "phone",
    "group_id",
    "menu_id",
    "user",
    "user_group",
)


def cell(value: object) -> str:
    """A value on a pipe-delimited line: NULL is empty, and no value may break the line."""
    if value is None:
        return ""
    return str(value).replace("|", "/").replace("\n", " ").replace("\r", " ")


def listing(o: Outcome) -> str | None:
    """The text body of did_info (`column|value` lines) and did_list (a header, then rows)."""
    if o.kind is Kind.DID_INFO:
        return "".join(f"{k}|{cell(v)}\n" for k, v in o.rows[0].items())
    if o.kind is Kind.DID_LIST:
        lines = ["|".join(LIST_COLUMNS)]
        lines += ["|".join(cell(r.get(c)) for c in LIST_COLUMNS) for r in o.rows]
        return "".join(line + "\n" for line in lines)
    return None
