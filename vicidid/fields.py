"""The parameter registry: every request parameter vicidid knows, declared once.

Parsing, validation, the OpenAPI document and the tests all read this table, so a
parameter exists exactly when it is listed here. Character sets are VICIdial's own
input filters (the `vicidial` dialect silently removes anything outside them; the
`simple` dialect rejects it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from dataclasses import field as attribute

ALNUM = "0-9a-zA-Z"
WORD = "\\-_0-9a-zA-Z"  # VICIdial's "- _ 0-9 a-z A-Z"
DID_CHARS = ":+*#._0-9a-zA-Z"
TEXT_CHARS = "\\- .,_0-9a-zA-Z"

ROUTES = ("EXTEN", "VOICEMAIL", "AGENT", "PHONE", "IN_GROUP", "CALLMENU", "VMAIL_NO_INST")
RECORD_CALL = ("Y", "N", "Y_QUEUESTOP")
RECORDING_WORDS = {"ALLCALLS": "Y", "NEVER": "N"}
SEARCH_METHODS = ("LO", "LB", "SO")

# Human names of VICIdial's character classes, for the simple dialect's error lines.
CHARSET_WORDS = {
    ALNUM: "letters and digits",
    WORD: "letters, digits, - and _",
    DID_CHARS: "letters, digits and : + * # . _",
    DID_CHARS + ",": "letters, digits, commas and : + * # . _",
    TEXT_CHARS: "letters, digits, spaces and - . , _",
    "A-Z": "capital letters",
    "0-9": "digits",
    "*#._0-9a-zA-Z": "letters, digits and * # . _",
    "\\-|_0-9a-zA-Z": "letters, digits and - | _",
    "\\-.:_0-9a-zA-Z": "letters, digits and - . : _",
    "_0-9a-zA-Z": "letters, digits and _",
}

# A raw `+` in a URL decodes to a space: say so wherever a DID is refused.
CHARSET_HINTS = {DID_CHARS: " (send + as %2B)", DID_CHARS + ",": " (send + as %2B)"}


@dataclass(frozen=True)
class Field:
    """One request parameter: its names, its column, and what it may hold."""

    key: str
    names: tuple[str, ...]  # accepted names; the first is the one error lines use
    charset: str
    min_len: int = 0
    max_len: int = 255
    column: str | None = None  # vicidial_inbound_dids column it sets, if any
    choices: tuple[str, ...] = ()
    synonyms: tuple[tuple[str, str], ...] = ()  # word -> stored value (ALLCALLS -> Y)
    digits: bool = False
    ref: str | None = None  # kind of row that must exist: server, ingroup, menu, user
    reason: str = ""  # VICIdial's reason text when the value is refused
    copy_reason: str = ""  # copy_did words it differently
    help: str = ""
    native: bool = True  # False for parameters VICIdial itself does not have
    itemised: bool = False  # a comma-separated list whose items are checked one by one
    # The names VICIdial itself reads (the `vicidial` dialect reads only these; () = none,
    # the parameter is ignored as VICIdial ignores it). None: the same as `names`.
    vicidial_names: tuple[str, ...] | None = None
    # VICIdial's column is an ENUM, which MariaDB matches without regard to case: the
    # `vicidial` dialect takes `lo` for LO and stores LO.
    case_blind: bool = False
    # VICIdial itself checks the choices (active, did_route, record_call). When it checks
    # only the length (agent_search_method), the choices are vicidid's own, stricter check,
    # made after every check VICIdial makes (core/validate.py).
    vicidial_checks_choices: bool = True
    # names_read's answers, indexed by vicidial_only: a request looks them up about 30
    # times, so they are worked out once
    read_names: tuple[tuple[str, ...], tuple[str, ...]] = attribute(
        init=False, repr=False, compare=False, default=((), ())
    )

    def __post_init__(self) -> None:
        vicidial = self.names if self.vicidial_names is None else self.vicidial_names
        object.__setattr__(self, "read_names", (self.names, vicidial))

    @property
    def name(self) -> str:
        return self.names[0]

    def names_read(self, vicidial_only: bool) -> tuple[str, ...]:
        """The names a dialect reads this parameter under."""
        return self.read_names[vicidial_only]

    def normalise(self, value: str, name: str) -> str:
        """Synonyms belong to the first name only (recording=ALLCALLS, not record_call)."""
        if name != self.names[0] or not self.synonyms:
            return value  # most fields have none: no mapping built for them
        return dict(self.synonyms).get(value, value)

    def rule(self) -> str:
        """What is allowed, in words, for `ERROR: INVALID {field} | {rule}`."""
        if self.choices:
            words = [w for w, _ in self.synonyms] + list(self.choices)
            if len(words) == 2:
                return f"must be {words[0]} or {words[1]}"
            return "must be one of " + ", ".join(words)
        kind = "digits" if self.digits else "characters"
        if self.min_len == self.max_len:
            return f"must be {self.min_len} {kind}"
        return f"must be {self.min_len} to {self.max_len} {kind}"


# DID fields in VICIdial's checking order: the first refused one is reported.
DID_FIELDS: tuple[Field, ...] = (
    Field(
        "did_description",
        ("did_description",),
        TEXT_CHARS,
        min_len=6,
        max_len=50,
        column="did_description",
        reason="DID DESCRIPTION MUST BE FROM 6 TO 50 CHARACTERS",
        copy_reason="DID DESCRIPTION MUST BE EITHER BLANK OR FROM 6 TO 50 CHARACTERS",
        help="Description of the DID",
    ),
    Field(
        "active",
        ("did_active", "active"),
        "A-Z",
        min_len=1,
        max_len=1,
        column="did_active",
        reason="ACTIVE MUST BE Y OR N",
        choices=("Y", "N"),
        vicidial_names=("active",),
        help="Y to enable the DID, N to disable it",
    ),
    Field(
        "did_route",
        ("did_route",),
        WORD,
        min_len=1,
        max_len=20,
        column="did_route",
        reason="DID ROUTE IS NOT VALID",
        choices=ROUTES,
        help="Where calls to the DID go",
    ),
    Field(
        "record_call",
        ("recording", "record_call"),
        WORD,
        min_len=1,
        max_len=20,
        column="record_call",
        reason="RECORD CALL MUST BE Y OR N",
        choices=RECORD_CALL,
        synonyms=tuple(RECORDING_WORDS.items()),
        vicidial_names=("record_call",),
        help="Call recording",
    ),
    Field(
        "extension",
        ("extension",),
        WORD,
        min_len=1,
        max_len=50,
        column="extension",
        reason="EXTENSION MUST BE FROM 1 TO 50 CHARACTERS",
        help="Extension for the EXTEN route",
    ),
    Field(
        "exten_context",
        ("exten_context",),
        WORD,
        min_len=1,
        max_len=50,
        column="exten_context",
        reason="EXTENSION CONTEXT MUST BE FROM 1 TO 50 CHARACTERS",
        help="Dialplan context",
    ),
    Field(
        "voicemail_ext",
        ("voicemail_ext",),
        "*#._0-9a-zA-Z",
        min_len=1,
        max_len=10,
        column="voicemail_ext",
        reason="VOICEMAIL EXTENSION MUST BE FROM 1 TO 10 CHARACTERS",
        help="Voicemail box",
    ),
    Field(
        "phone_extension",
        ("phone_extension",),
        WORD,
        min_len=1,
        max_len=100,
        column="phone",
        reason="PHONE EXTENSION MUST BE FROM 1 TO 100 CHARACTERS",
        help="Phone for the PHONE route",
    ),
    Field(
        "server_ip",
        ("server_ip",),
        "\\-.:_0-9a-zA-Z",
        min_len=1,
        max_len=15,
        column="server_ip",
        reason="SERVER IP MUST BE A VALID SERVER IN THE SYSTEM",
        ref="server",
        help="Server of the phone",
    ),
    Field(
        "group",
        ("group_id", "group"),
        "\\-|_0-9a-zA-Z",
        min_len=1,
        max_len=20,
        column="group_id",
        reason="GROUP ID MUST BE A VALID INBOUND GROUP IN THE SYSTEM",
        ref="ingroup",
        vicidial_names=("group",),
        help="In-group for the IN_GROUP route",
    ),
    Field(
        "menu_id",
        ("menu_id",),
        WORD,
        min_len=1,
        max_len=50,
        column="menu_id",
        reason="MENU ID MUST BE A VALID CALL MENU IN THE SYSTEM",
        ref="menu",
        help="Call menu for the CALLMENU route",
    ),
    Field(
        "filter_clean_cid_number",
        ("filter_clean_cid_number",),
        TEXT_CHARS,
        min_len=1,
        max_len=20,
        column="filter_clean_cid_number",
        reason="CLEAN CID NUMBER MUST BE FROM 1 TO 20 CHARACTERS",
        help="Caller ID cleaning rule",
    ),
    Field(
        "call_handle_method",
        ("call_handle_method",),
        "_0-9a-zA-Z",
        min_len=3,
        max_len=20,
        column="call_handle_method",
        reason="CALL HANDLE METHOD MUST BE FROM 3 TO 20 CHARACTERS",
        help="In-group call handle method",
    ),
    Field(
        "agent_search_method",
        ("agent_search_method",),
        "_0-9a-zA-Z",
        min_len=2,
        max_len=2,
        column="agent_search_method",
        reason="AGENT SEARCH METHOD MUST BE 2 CHARACTERS",
        choices=SEARCH_METHODS,
        case_blind=True,
        vicidial_checks_choices=False,  # VICIdial checks the length only
        help="LO, LB or SO",
    ),
    Field(
        "list_id",
        ("list_id",),
        WORD,
        min_len=3,
        max_len=14,
        column="list_id",
        reason="LIST ID MUST BE FROM 3 TO 14 DIGITS",
        digits=True,
        help="List for new leads",
    ),
    Field(
        "entry_list_id",
        ("entry_list_id",),
        "0-9",
        min_len=1,
        max_len=14,
        column="entry_list_id",
        reason="ENTRY LIST ID MUST BE FROM 1 TO 14 DIGITS",
        digits=True,
        help="Entry list",
    ),
    Field(
        "campaign_id",
        ("campaign_id",),
        WORD,
        min_len=1,
        max_len=8,
        column="campaign_id",
        reason="CAMPAIGN MUST BE FROM 1 TO 8 CHARACTERS",
        help="Campaign",
    ),
    Field(
        "phone_code",
        ("phone_code",),
        "0-9",
        min_len=1,
        max_len=10,
        column="phone_code",
        reason="PHONE CODE MUST BE FROM 1 TO 10 CHARACTERS",
        digits=True,
        help="Country code",
    ),
    Field(
        "user_id",
        ("user_id",),
        WORD,
        min_len=1,
        max_len=20,
        column="user",
        reason="USER ID MUST BE A VALID USER IN THE SYSTEM",
        ref="user",
        native=False,
        vicidial_names=(),  # a tutorials' name: VICIdial has no such parameter
        help="Agent for the AGENT route",
    ),
)

# copy_did applies only these to the copies; VICIdial's copy reads did_description alone
# (a given `active` does not reach the copies).
COPY_FIELDS: tuple[Field, ...] = tuple(
    f if f.key == "did_description" else replace(f, vicidial_names=())
    for f in DID_FIELDS
    if f.key in ("did_description", "active")
)

# Request-level parameters.
FUNCTION = Field("function", ("function",), WORD, 1, 40, help="The operation")
USER = Field("user", ("user",), WORD, 1, 20, help="API user")
PASS = Field("pass", ("pass",), WORD, 1, 100, help="Password (or use HTTP Basic auth)")
SOURCE = Field("source", ("source",), ALNUM, 2, 20, help="Who is calling, for the logs")
DID_PATTERN = Field("did_pattern", ("did_pattern",), DID_CHARS, 2, 50, help="The DID")
SOURCE_DID = Field(
    "source_did_pattern",
    ("did_pattern", "source_did_pattern"),
    DID_CHARS,
    2,
    50,
    vicidial_names=("source_did_pattern",),
    help="The DID to copy from",
)
NEW_DIDS = Field(
    "new_dids",
    ("new_did_pattern", "new_dids"),
    DID_CHARS + ",",
    2,
    2000,
    itemised=True,
    vicidial_names=("new_dids",),
    help="New DID, or a comma-separated list of new DIDs",
)
DELETE_DID = Field("delete_did", ("delete_did",), ALNUM, 1, 1, help="Y deletes the DID")
FORMAT = Field(
    "format", ("format",), ALNUM, 4, 4, choices=("text", "json"), help="text (default) or json"
)
IDEMPOTENCY_KEY = Field(
    "idempotency_key",
    ("idempotency_key",),
    WORD,
    1,
    100,
    help="Replays the first answer instead of acting twice",
)

# did_list filters and paging.
LIST_FILTERS: tuple[Field, ...] = (
    Field("route", ("route",), WORD, 1, 20, choices=ROUTES, help="Only DIDs with this route"),
    Field(
        "did_active",
        ("did_active", "active"),
        "A-Z",
        1,
        1,
        choices=("Y", "N"),
        help="Only active (Y) or inactive (N) DIDs",
    ),
    Field("group", ("group_id", "group"), "\\-|_0-9a-zA-Z", 1, 20, help="Only this in-group"),
    Field("prefix", ("prefix",), DID_CHARS, 1, 50, help="Only DIDs starting with this"),
    Field("user_group", ("user_group",), WORD, 1, 20, help="Only DIDs of this user group"),
    Field("limit", ("limit",), "0-9", 1, 5, digits=True, help="At most this many rows (1-1000)"),
    Field("offset", ("offset",), "0-9", 1, 9, digits=True, help="Skip this many rows"),
)


def vicidial_name(name: str, value: str) -> tuple[str, str]:
    """A DID setting under the name VICIdial reads (did_active=N -> active=N,
    recording=ALLCALLS -> record_call=Y), so that a request means the same to both
    dialects and to VICIdial itself. Names VICIdial lacks (user_id) stay as they are."""
    for field in DID_FIELDS:
        if name in field.names and field.vicidial_names and name not in field.vicidial_names:
            return field.vicidial_names[0], field.normalise(value, name)
    return name, value
