"""Response dialects: the only place that knows the words.

Each dialect is a message catalogue (one literal template per outcome variant) and a
renderer. `simple` speaks the tutorials' wording, `vicidial` VICIdial 2.14's, `json`
an object per request. The api_log rows are always VICIdial's (its reports read them).
"""

from __future__ import annotations

from vicidid.core.fields import CHARSET_HINTS, CHARSET_WORDS
from vicidid.core.functions import FUNCTIONS
from vicidid.core.outcomes import Kind, Outcome

THINGS = {"server": "server", "ingroup": "in-group", "menu": "call menu", "user": "user"}

# Which functions VICIdial words as "ADD DIDS" rather than "UPDATE DIDS", and which only view.
ADDING = {f.name for f in FUNCTIONS.values() if f.adds_dids}
VIEWING = {f.name for f in FUNCTIONS.values() if not f.changes_dids}


SHOWN_MAX = 100


def shown(text: str, whole: bool = False) -> str:
    """A caller's value echoed in an answer: one printable line, and not too long.

    `whole` keeps the length (the vicidial dialect echoes values whole, as VICIdial);
    the line stays one line either way.
    """
    clean = text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)
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
    return k.value


def context(o: Outcome, whole: bool = False) -> dict[str, object]:
    """The values a template may use; echoed values cut short unless `whole`."""
    f = o.field
    counts = o.counts
    fn = o.function
    if f is not None and f.key == "menu_id" and fn == "add_did":
        fn = "update_did"  # VICIdial prints add_did's menu error with this prefix
    reason = ""
    if f is not None:
        reason = f.copy_reason if (o.function == "copy_did" and f.copy_reason) else f.reason
    return {
        "fn": shown(fn, whole),
        "user": shown(o.user, whole),
        "did": shown(o.did, whole),
        "value": shown(o.value, whole),
        "name": o.name or (f.name if f else ""),
        "other": o.extra.get("other", ""),
        "rule": o.extra.get("rule") or (f.rule() if f else ""),
        "charset": CHARSET_WORDS.get(f.charset, "the allowed characters") if f else "",
        "hint": CHARSET_HINTS.get(f.charset, "") if f else "",
        "thing": THINGS.get(f.ref or "", "row") if f else "",
        "reason": reason,
        "data": shown(o.extra.get("data", o.value), whole),
        "did_id": "" if o.did_id is None else o.did_id,
        "added": counts.added if counts else 0,
        "existed": counts.existed if counts else 0,
        "invalid": counts.invalid if counts else 0,
        "failed": counts.failed if counts else 0,
        "total": counts.total if counts else 0,
        "line": o.extra.get("line", ""),
        "count": o.extra.get("count", ""),
        "seconds": o.extra.get("seconds", ""),
    }


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
