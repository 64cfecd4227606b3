"""Login limits when the wrong passwords arrive together, not one after another.

A burst is many requests on connections opened first, then all written back to back
(`burst`), so that every request is read before the first failure could be counted.
Answers are read as `format=json` and sorted by `kind`:

  bad_login  the guess was checked (a wrong password)
  locked     refused by VICIdial's lockout
  throttled  refused by the per-address throttle, or because too many hashes already wait
             for that address or account (nothing checked)
  busy       HTTP 503: the hash queue as a whole is full (nothing checked)

VICIdial's lockout: an account logs in only while failed_login_count < 10 or its
last_login_date is over 15 minutes old. An idle account therefore allows 20 checked
guesses (10, then one fresh window of 10), one with a recent login 10; after them even
the right password is refused as locked. The throttle allows an address 30 failed
logins a minute, whatever the accounts (unknown names included).

With plain passwords nothing is hashed, so nothing waits: the counts are exact. With
bcrypt a burst may be partly refused as throttled or busy; bursts are then sent until
the account (or the address) refuses everything, and the checked guesses of all bursts
add up to no more than the limit.

Setups: the in-process server on SQLite, MariaDB InnoDB (a database `init-db` made) and
VICIdial's own MyISAM schema (vicidid's tables added by `init-db --add-missing`); a real
`vicidid serve --workers 2` on a SQLite file; two `vicidid serve` processes on one MariaDB
database, the burst spread over both.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tests.conftest import serve
from tests.test_existing_vicidial import vicidial_url  # noqa: F401  (a fixture)
from tests.test_login import _ip_lists, fresh, user_row
from tests.test_ops import start, stop
from vicidid.auth import passhash
from vicidid.auth.hash_slots import IN_ALL, PER_ACCOUNT, PER_ADDRESS
from vicidid.auth.throttle import Limit
from vicidid.cli import admin, demo, main
from vicidid.core.call import POLICIES
from vicidid.core.outcomes import Kind
from vicidid.core.pipeline import Incoming, Pipeline
from vicidid.store import tables as t
from vicidid.store.db import make_engine
from vicidid.store.schema import init_db

API = "/vicidial/non_agent_api.php"
BURST = 200
THROTTLE = Limit(30, 60)
PASS_KEY = "0123456789abcdef"
DID = "18001234567"
ACCOUNT = "6666"  # in vicidid's demo data and in VICIdial's own default rows, password 1234
PROXY = ("127.0.0.1",)  # X-Forwarded-For is believed from the test client
ATTACKER = "203.0.113.7"
BYSTANDER = "198.51.100.20"
CHECKED, LOCKED, THROTTLED, BUSY = "bad_login", "locked", "throttled", "busy"
MAX_BURSTS = 40  # bcrypt: bursts until everything is refused; far more than needed


# --- a client that sends everything at once ------------------------------------------------


@dataclass
class Answer:
    status: int
    kind: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


def _request(base: str, path: str, headers: dict[str, str]) -> tuple[tuple[str, int], bytes]:
    where = urlsplit(base)
    lines = [f"GET {path} HTTP/1.1", f"Host: {where.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return (where.hostname or "", where.port or 80), ("\r\n".join(lines) + "\r\n\r\n").encode()


def _parse(raw: bytes) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 "):
        return Answer(0, f"no answer: {raw[:80]!r}")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    text = body.decode("utf-8", "replace")
    try:
        kind = json.loads(text)["kind"]
    except (ValueError, KeyError, TypeError):
        kind = f"HTTP {status}: {text[:80]!r}"
    return Answer(status, kind, headers, text)


class Hold:
    """Every bcrypt hash of the in-process server waits until `release`.

    With the hashes held, which requests are refused at once and which wait for a check
    no longer depends on how fast a hash is: `burst` releases them once all requests but
    `held` are answered (or after 20 seconds, so that a wrong count fails instead of hanging).
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, held: int) -> None:
        self.held = held
        self.released = threading.Event()
        self.hashed: list[str] = []  # the passwords, in the order their hashes began
        real = passhash.hash_password

        def held_hash(password: str, pass_key: str, cost: int) -> str:
            self.hashed.append(password)
            self.released.wait(60)
            return real(password, pass_key, cost)

        monkeypatch.setattr(passhash, "hash_password", held_hash)

    def release(self) -> None:
        self.released.set()


def burst(
    bases: list[str], requests: list[tuple[str, dict[str, str]]], hold: Hold | None = None
) -> list[Answer]:
    """Each request on a connection of its own, spread over `bases` in turn.

    Every connection is opened first; then all the requests are written back to back (a
    few hundred bytes each, straight into the kernel's buffers) and only then read. The
    answers come back in the order of `requests`.
    """
    if hold is not None and hold.held == 0:
        hold.release()
    socks: list[socket.socket] = []
    try:
        payloads = []
        for n, (path, headers) in enumerate(requests):
            address, payload = _request(bases[n % len(bases)], path, headers)
            socks.append(socket.create_connection(address, timeout=30))
            payloads.append(payload)
        for sock, payload in zip(socks, payloads, strict=True):  # the release
            sock.sendall(payload)
        received: dict[int, list[bytes]] = {n: [] for n in range(len(socks))}
        with selectors.DefaultSelector() as selector:
            for n, sock in enumerate(socks):
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ, n)
            deadline = time.monotonic() + 120
            release_by = time.monotonic() + 20
            open_ = len(socks)
            while open_:
                if hold is not None and (open_ <= hold.held or time.monotonic() > release_by):
                    hold.release()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{open_} of {len(socks)} requests got no whole answer")
                for key, _ in selector.select(timeout=1):
                    chunk = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if chunk:
                        received[key.data].append(chunk)
                    else:  # Connection: close, so the end of the answer
                        selector.unregister(key.fileobj)
                        open_ -= 1
        return [_parse(b"".join(received[n])) for n in range(len(socks))]
    finally:
        if hold is not None:
            hold.release()
        for sock in socks:
            sock.close()


def query(user: str, password: str, description: str = "RaceBurst") -> str:
    return (
        f"{API}?function=update_did&user={user}&pass={password}&source=races"
        f"&did_pattern={DID}&did_description={description}&format=json"
    )


def kinds(answers: list[Answer]) -> Counter[str]:
    return Counter(a.kind for a in answers)


def check_busy(answers: list[Answer]) -> None:
    for a in answers:
        if a.kind == BUSY:
            assert a.status == 503 and a.headers.get("retry-after"), (a.status, a.headers)


def ask(
    base: str, user: str, password: str, ip: str | None = None, description: str = "AfterBurst"
) -> Answer:
    """One request on its own."""
    headers = {"X-Forwarded-For": ip} if ip else {}
    return burst([base], [(query(user, password, description), headers)])[0]


# --- databases -----------------------------------------------------------------------------


@dataclass
class Db:
    name: str  # sqlite, innodb or myisam
    url: str
    engine: sa.engine.Engine


def execute(engine: sa.engine.Engine, sql: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def _make_db(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if name == "sqlite":
        url = f"sqlite:///{tmp_path / 'races.db'}"
    elif name == "innodb":
        url = request.getfixturevalue("mariadb_url")
    else:  # VICIdial's own MyISAM tables and sample data; vicidid adds only its own
        url = request.getfixturevalue("vicidial_url")
        added = CliRunner().invoke(main, ["--db", url, "init-db", "--add-missing"])
        assert added.exit_code == 0, added.output
    engine = make_engine(url)
    if name != "myisam":
        init_db(engine)
        demo.load(engine)
    try:
        yield Db(name, url, engine)
    finally:
        engine.dispose()


MARIADB = (pytest.mark.mariadb,)
ENGINES = [
    "sqlite",
    pytest.param("innodb", marks=MARIADB),
    pytest.param("myisam", marks=MARIADB),
]


@pytest.fixture
def db(request, tmp_path) -> Iterator[Db]:
    """The database named by the test's parameter (indirect), else SQLite."""
    yield from _make_db(getattr(request, "param", "sqlite"), request, tmp_path)


def use_passwords(engine: sa.engine.Engine, hashed: bool, users: list[str]) -> None:
    """Plain passwords, or bcrypt at cost 4 (fast); every user given gets password 1234."""
    execute(
        engine,
        "UPDATE system_settings SET pass_hash_enabled=:h, pass_key=:k, pass_cost=4",
        h="1" if hashed else "0",  # an ENUM in VICIdial's schema
        k=PASS_KEY,
    )
    with engine.begin() as conn:
        for user in users:
            if conn.execute(
                sa.text("SELECT 1 FROM vicidial_users WHERE user=:u"), {"u": user}
            ).first():
                admin.set_user(conn, user, "1234", admin.UserFlags())
            else:
                admin.add_user(conn, user, "1234", admin.UserFlags(modify_dids=True))
    row = user_row(engine, users[0])
    assert (row["pass_hash"] != "") is hashed and (row["pass"] == "") is hashed


def lock_state(engine: sa.engine.Engine, user: str, count: int, ago: timedelta | None) -> None:
    last = None if ago is None else datetime.now().replace(microsecond=0) - ago
    execute(
        engine,
        "UPDATE vicidial_users SET failed_login_count=:c, last_login_date=:d, "
        "failed_last_type_today='', failed_login_attempts_today=0, failed_login_count_today=0 "
        "WHERE user=:u",
        c=count,
        d=last,
        u=user,
    )


def did_description(engine: sa.engine.Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT did_description FROM vicidial_inbound_dids WHERE did_pattern=:p"),
            {"p": DID},
        ).scalar_one()


def window(engine: sa.engine.Engine, key: str) -> int | None:
    """The failures counted for an address (IPv4, or an IPv6 /64) in the throttle's table."""
    table = t.login_throttle
    with engine.connect() as conn:
        return conn.execute(
            sa.select(table.c.failures).where(table.c.address == key)
        ).scalar_one_or_none()


def windows_kept(engine: sa.engine.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(t.login_throttle)).scalar_one()


def counted_on(engine: sa.engine.Engine, users: list[str]) -> int:
    """The failed logins counted on these accounts, all together."""
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(t.users.c.failed_login_count), 0)).where(
                t.users.c.user.in_(users)
            )
        ).scalar_one()


# --- servers -------------------------------------------------------------------------------


@contextlib.contextmanager
def servers(setup: str, db: Db, tmp_path: Path, limit: Limit | None) -> Iterator[list[str]]:
    """The base URLs of: the in-process server (`one`), one `vicidid serve --workers 2`
    (`workers2`), or two `vicidid serve` processes on the same database (`servers2`).

    X-Forwarded-For is believed from the test client; `limit` None: no throttle."""
    if setup == "one":
        with serve(db.engine, throttle=limit, trusted_proxies=PROXY) as server:
            yield [server.url]
        return
    args = ["--trusted-proxy", PROXY[0]]
    args += ["--login-throttle", str(limit)] if limit else ["--no-login-throttle"]
    if setup == "workers2":
        args += ["--workers", "2"]
    started = []
    try:
        for _ in range(2 if setup == "servers2" else 1):
            started.append(start(db.url, tmp_path, *args))
        yield [s.url for s in started]
    finally:
        for s in started:
            stop(s)


# --- one account, many guesses at once ------------------------------------------------------

IDLE, RECENT = "idle", "recent"
LIMIT = {IDLE: 20, RECENT: 10}


def spread(n: int, i: int) -> str:
    """The address of the i-th request of the n-th burst from an attacker with many."""
    return f"10.{n + 1}.{i // 250}.{i % 250 + 1}"


def lockout_burst(
    db: Db,
    bases: list[str],
    hashed: bool,
    start_as: str,
    many: bool = False,
    same_guess: bool = False,
) -> None:
    """Wrong passwords for one account at once: from one address, with no throttle, or
    (`many`) each from an address of its own, so that the throttle cannot be what stops it;
    each a guess of its own, or (`same_guess`) the same wrong password in every request.

    Plain: one burst, exactly the lockout's limit checked, the rest locked. Bcrypt:
    bursts until all are locked; the checked guesses of all add up to no more."""
    use_passwords(db.engine, hashed, [ACCOUNT])
    ago = None if start_as == IDLE else timedelta(minutes=1)
    lock_state(db.engine, ACCOUNT, 0, ago)
    before = user_row(db.engine, ACCOUNT)["last_login_date"]
    description = did_description(db.engine)
    seen: list[Counter[str]] = []
    for n in range(1 if not hashed else MAX_BURSTS):
        requests = [
            (
                query(ACCOUNT, "wrong" if same_guess else f"wrong{n}x{i}"),
                {"X-Forwarded-For": spread(n, i)} if many else {},
            )
            for i in range(BURST)
        ]
        answers = burst(bases, requests)
        check_busy(answers)
        seen.append(kinds(answers))
        if seen[-1][LOCKED] == BURST:
            break
    total = sum(seen, Counter())
    limit = LIMIT[start_as]
    if not hashed:
        assert seen == [Counter({CHECKED: limit, LOCKED: BURST - limit})], seen
    else:
        assert set(total) <= {CHECKED, LOCKED, THROTTLED, BUSY}, seen
        assert total[CHECKED] <= limit, seen
        assert seen[-1] == Counter({LOCKED: BURST}), seen
    row = user_row(db.engine, ACCOUNT)
    assert row["failed_login_count"] == 10, (row["failed_login_count"], seen)
    # VICIdial's bookkeeping: every checked guess counts, every answer is an attempt
    assert row["failed_login_count_today"] == total[CHECKED], seen
    assert row["failed_login_attempts_today"] == total[CHECKED] + total[LOCKED], seen
    if start_as == IDLE:
        assert fresh(row["last_login_date"])  # the second window began with this burst
    else:
        assert row["last_login_date"] == before  # never a new window: the lock holds
    # the right password, now: refused as locked, and nothing changes
    right = ask(bases[0], ACCOUNT, "1234")
    assert (right.status, right.kind) == (401, LOCKED), right
    assert user_row(db.engine, ACCOUNT)["failed_login_count"] == 10
    assert did_description(db.engine) == description


IN_PROCESS = [
    pytest.param(engine, hashed, start_as, id=f"{engine}-{name}-{start_as}", marks=marks)
    for engine, marks in (("sqlite", ()), ("innodb", MARIADB), ("myisam", MARIADB))
    for hashed, name in ((False, "plain"), (True, "bcrypt"))
    for start_as in (IDLE, RECENT)
    if engine == "sqlite" or not (hashed and start_as == RECENT)  # enough of a run
]


@pytest.mark.parametrize(("db", "hashed", "start_as"), IN_PROCESS, indirect=["db"])
def test_account_lockout_holds_under_a_burst(db, tmp_path, hashed, start_as):
    with servers("one", db, tmp_path, None) as bases:
        lockout_burst(db, bases, hashed, start_as)


ACROSS = [
    pytest.param("workers2", "sqlite", id="workers2-sqlite"),
    # InnoDB: serve runs fewer request threads per worker there than the pool holds
    pytest.param("workers2", "innodb", id="workers2-innodb", marks=pytest.mark.mariadb),
    pytest.param("servers2", "innodb", id="servers2-innodb", marks=pytest.mark.mariadb),
    pytest.param("servers2", "myisam", id="servers2-myisam", marks=pytest.mark.mariadb),
]


@pytest.mark.parametrize(("setup", "db"), ACROSS, indirect=["db"])
def test_account_lockout_holds_across_processes(db, tmp_path, setup):
    with servers(setup, db, tmp_path, None) as bases:
        lockout_burst(db, bases, False, IDLE)


def test_account_lockout_holds_across_workers_with_bcrypt(db, tmp_path):
    with servers("workers2", db, tmp_path, None) as bases:
        lockout_burst(db, bases, True, IDLE)


@pytest.mark.parametrize("hashed", [False, True], ids=["plain", "bcrypt"])
def test_account_lockout_holds_against_many_addresses(db, tmp_path, hashed):
    """The throttle on, every guess from another address: the lockout alone stops them."""
    with servers("one", db, tmp_path, THROTTLE) as bases:
        lockout_burst(db, bases, hashed, IDLE, many=True)


def test_account_lockout_holds_when_every_request_sends_the_same_wrong_password(db, tmp_path):
    """Requests that wait for the same check under way are counted when they look again."""
    with servers("one", db, tmp_path, None) as bases:
        lockout_burst(db, bases, True, IDLE, same_guess=True)


def test_a_burst_of_the_right_password_on_a_first_login_is_neither_refused_nor_counted(
    db, tmp_path
):
    """A script's burst on its first login (bcrypt, nothing remembered yet), throttle on."""
    use_passwords(db.engine, True, [ACCOUNT])
    lock_state(db.engine, ACCOUNT, 0, None)
    with servers("one", db, tmp_path, THROTTLE) as bases:
        answers = burst(bases, [(query(ACCOUNT, "1234", "RightBurst"), {})] * BURST)
    seen = kinds(answers)
    assert set(seen) <= {"updated", "no_updates"} and seen["updated"] >= 1, seen
    assert user_row(db.engine, ACCOUNT)["failed_login_count"] == 0
    assert window(db.engine, "127.0.0.1") in (None, 0)
    assert did_description(db.engine) == "RightBurst"


# --- one address, many accounts at once -----------------------------------------------------

KNOWN = [f"burst{n:02d}" for n in range(20)]
ACCOUNTS = KNOWN + [f"nobody{n:02d}" for n in range(20)]  # half of them unknown


def address_of(i: int, addresses: str) -> str:
    if addresses == "one":
        return ATTACKER
    return f"2001:db8:7:7:{i:x}:{i * 7:x}::1"  # a new address for each, all in one /64


def throttle_burst(db: Db, bases: list[str], hashed: bool, addresses: str = "one") -> None:
    """Wrong passwords over 40 accounts (5 each: no account comes near its lockout), from
    one address, at once. Plain: exactly the throttle's 30 checked, the rest throttled."""
    use_passwords(db.engine, hashed, KNOWN)
    for user in KNOWN:
        lock_state(db.engine, user, 0, None)
    seen: list[Counter[str]] = []
    checked_known = 0
    for n in range(1 if not hashed else MAX_BURSTS):
        # each burst shifts the accounts along, so that no account gathers the checks
        users = [ACCOUNTS[(i + 7 * n) % len(ACCOUNTS)] for i in range(BURST)]
        requests = [
            (query(user, f"wrong{n}x{i}"), {"X-Forwarded-For": address_of(i, addresses)})
            for i, user in enumerate(users)
        ]
        answers = burst(bases, requests)
        check_busy(answers)
        seen.append(kinds(answers))
        checked_known += sum(
            a.kind == CHECKED and user in KNOWN for user, a in zip(users, answers, strict=True)
        )
        if seen[-1][THROTTLED] == BURST:
            break
    total = sum(seen, Counter())
    if not hashed:
        limit = THROTTLE.failures
        assert seen == [Counter({CHECKED: limit, THROTTLED: BURST - limit})], seen
    else:
        # (an account that gathered ten checks would answer locked: allowed, never needed)
        assert set(total) <= {CHECKED, LOCKED, THROTTLED, BUSY}, seen
        assert total[CHECKED] <= THROTTLE.failures, seen
        assert seen[-1] == Counter({THROTTLED: BURST}), seen
    # every guess checked for a known account was counted on it, no other
    assert counted_on(db.engine, KNOWN) == checked_known, seen
    # the address's count, in the database: the same row for every worker and server
    key = ATTACKER if addresses == "one" else "2001:db8:7:7::/64"
    assert window(db.engine, key) == THROTTLE.failures
    assert windows_kept(db.engine) == 1
    # the address is refused even the right password; another address is not, and its
    # right password counts no failure, neither on the account nor on the address
    last = address_of(BURST - 1, addresses)
    right = ask(bases[0], KNOWN[0], "1234", last)
    assert (right.status, right.kind) == (429, THROTTLED), right
    elsewhere = ask(bases[-1], KNOWN[0], "1234", BYSTANDER)
    assert (elsewhere.status, elsewhere.kind) == (200, "updated"), elsewhere
    assert window(db.engine, BYSTANDER) in (None, 0)
    assert user_row(db.engine, KNOWN[0])["failed_login_count"] == 0
    assert window(db.engine, key) == THROTTLE.failures
    # the operator clears the address (an IPv6 address its /64): every server lets it in
    cleared = CliRunner().invoke(main, ["--db", db.url, "throttle", "clear", last])
    assert cleared.exit_code == 0, cleared.output
    assert f"{THROTTLE.failures} failed logins forgotten" in cleared.output
    again = ask(bases[-1], KNOWN[0], "1234", last, description="AfterClear")
    assert (again.status, again.kind) == (200, "updated"), again
    assert window(db.engine, key) in (None, 0)


# --- hashes waiting: bounded per address, per account and in all -----------------------------


def held_burst(
    db: Db,
    tmp_path: Path,
    monkeypatch,
    users: list[str],
    addresses: list[str],
    expected: Counter[str],
) -> list[Answer]:
    """A bcrypt burst with every hash held until the requests not admitted are answered:
    `expected` the answers, the checked ones exactly those admitted."""
    known = [u for u in users if not u.startswith("nobody")]
    use_passwords(db.engine, True, sorted(set(known)))
    for user in set(known):
        lock_state(db.engine, user, 0, None)
    requests = [
        (query(user, f"wrong{i}"), {"X-Forwarded-For": ip})
        for i, (user, ip) in enumerate(zip(users, addresses, strict=True))
    ]
    hold = Hold(monkeypatch, expected[CHECKED])
    with servers("one", db, tmp_path, THROTTLE) as bases:
        answers = burst(bases, requests, hold)
    assert kinds(answers) == expected
    check_busy(answers)
    # a refused request was counted nowhere: neither on its account nor on its address
    checked = [
        (u, ip) for u, ip, a in zip(users, addresses, answers, strict=True) if a.kind == CHECKED
    ]
    assert counted_on(db.engine, sorted(set(known))) == sum(u in known for u, _ in checked)
    assert windows_kept(db.engine) == len({ip for _, ip in checked})
    assert len(hold.hashed) == len(checked)  # and nothing hashed for it
    return answers


def test_hashes_waiting_for_one_address_are_bounded(db, tmp_path, monkeypatch):
    users = [ACCOUNTS[i % len(ACCOUNTS)] for i in range(BURST)]
    expected = Counter({CHECKED: PER_ADDRESS, THROTTLED: BURST - PER_ADDRESS})
    held_burst(db, tmp_path, monkeypatch, users, [ATTACKER] * BURST, expected)
    assert window(db.engine, ATTACKER) == PER_ADDRESS


def test_hashes_waiting_for_one_account_are_bounded(db, tmp_path, monkeypatch):
    addresses = [spread(0, i) for i in range(BURST)]
    expected = Counter({CHECKED: PER_ACCOUNT, THROTTLED: BURST - PER_ACCOUNT})
    held_burst(db, tmp_path, monkeypatch, [ACCOUNT] * BURST, addresses, expected)
    assert user_row(db.engine, ACCOUNT)["failed_login_count"] == PER_ACCOUNT


def test_hashes_waiting_in_all_are_bounded(db, tmp_path, monkeypatch):
    """Every guess for an account and from an address of its own: only the queue's bound
    applies. Past it: 503 with Retry-After, nothing counted or hashed."""
    users = KNOWN + [f"nobody{i:03d}" for i in range(BURST - len(KNOWN))]
    addresses = [spread(0, i) for i in range(BURST)]
    expected = Counter({CHECKED: IN_ALL, BUSY: BURST - IN_ALL})
    answers = held_burst(db, tmp_path, monkeypatch, users, addresses, expected)
    assert {a.status for a in answers if a.kind == BUSY} == {503}


@pytest.mark.parametrize("db", ENGINES, indirect=True)
def test_address_throttle_holds_under_a_burst(db, tmp_path):
    with servers("one", db, tmp_path, THROTTLE) as bases:
        throttle_burst(db, bases, False)


@pytest.mark.parametrize(
    ("hashed", "addresses"), [(True, "one"), (False, "one-64")], ids=["bcrypt", "ipv6-one-64"]
)
def test_address_throttle_holds_with_bcrypt_and_per_64(db, tmp_path, hashed, addresses):
    with servers("one", db, tmp_path, THROTTLE) as bases:
        throttle_burst(db, bases, hashed, addresses)


@pytest.mark.parametrize(("setup", "db"), ACROSS, indirect=["db"])
def test_address_throttle_holds_across_processes(db, tmp_path, setup):
    with servers(setup, db, tmp_path, THROTTLE) as bases:
        throttle_burst(db, bases, False)


# --- what a claim leaves behind ----------------------------------------------------------------

LOGIN = [("function", "update_did"), ("user", ACCOUNT), ("source", "races"), ("did_pattern", DID)]


@pytest.mark.parametrize("hashed", [False, True], ids=["plain", "bcrypt"])
def test_a_claim_given_back_leaves_the_lockout_columns_as_they_were(db, hashed):
    """The right password from an address the IP lists refuse: VICIdial counts no failure
    and moves no date, also when the account's ten failures are over 15 minutes old (a
    claim there took the stale branch: count 1, last_login_date now)."""
    use_passwords(db.engine, hashed, [ACCOUNT])
    _ip_lists(db.engine, "", "OFFICE", [("OFFICE", "10.0.0.1")])
    lock_state(db.engine, ACCOUNT, 10, timedelta(minutes=20))
    before = user_row(db.engine, ACCOUNT)
    pipeline = Pipeline(db.engine, POLICIES["vicidial"], THROTTLE)
    reply = pipeline.handle(Incoming([*LOGIN, ("pass", "1234")]))
    assert reply.kinds == [Kind.IP_REFUSED]
    after = user_row(db.engine, ACCOUNT)
    assert after["failed_last_type_today"] == "aIPBLOCK"

    def same(value):  # SQLite keeps a date as text, with or without its microseconds
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    changed = {
        column: (before[column], after[column])
        for column in ("failed_login_count", "last_login_date")
        if same(before[column]) != same(after[column])
    }
    assert changed == {}
    assert window(db.engine, "127.0.0.1") in (None, 0)  # the address's claim went back too


def test_a_window_purged_meanwhile_by_another_server_is_no_refusal(db):
    """The address's window has ended; between this login's read (which found the old row)
    and its claim, another server purges ended windows. The guess is checked in a new
    window, not refused as if the old one still ran."""
    use_passwords(db.engine, False, [ACCOUNT])
    ended = int(time.time()) - THROTTLE.seconds - 60
    execute(
        db.engine,
        "INSERT INTO vicidid_login_throttle (address, window_start, failures) "
        "VALUES ('127.0.0.1', :s, :f)",
        s=ended,
        f=THROTTLE.failures,
    )
    other = make_engine(db.url)  # another server's connection
    purged: list[int] = []

    def purge_after_the_read(conn, cursor, statement, *args) -> None:
        reads_window = t.login_throttle.name in statement
        if purged or not reads_window or not statement.lstrip().upper().startswith("SELECT"):
            return
        with other.begin() as theirs:
            ended_rows = t.login_throttle.c.window_start <= int(time.time()) - THROTTLE.seconds
            purged.append(theirs.execute(t.login_throttle.delete().where(ended_rows)).rowcount)

    sa.event.listen(db.engine, "after_cursor_execute", purge_after_the_read)
    try:
        reply = Pipeline(db.engine, POLICIES["simple"], THROTTLE).handle(
            Incoming([*LOGIN, ("pass", "wrong")])
        )
    finally:
        sa.event.remove(db.engine, "after_cursor_execute", purge_after_the_read)
        other.dispose()
    assert purged == [1]
    assert reply.kinds == [Kind.BAD_LOGIN]
    assert window(db.engine, "127.0.0.1") == 1
