"""One request, start to finish, in VICIdial's order of checks.

request → parameters → caller → function → store → outcomes. The login is checked first,
without any lock (login.py); everything the request then changes, its api_log rows and
the login bookkeeping included, commits in one transaction — on InnoDB and SQLite. On
MyISAM each write lands as it runs: a request that meets a database failure there is
never run a second time once it has written, and says the change may be partly applied.

A password that must be hashed pauses the request (`start` returns `Paused`): the HTTP
edge hashes it on threads of its own and the request goes on from the login (`resume`),
its parameters, time and counted guess kept. The CLI and tests hash on the same thread
(`handle`).

On MariaDB/MySQL the login's read also carries the DID read the function declares, and a
function's closing writes leave with the api_log rows in one message (store/wire.py):
an update_did is three round trips, two on MyISAM. That DID row is used only when the
login is settled in that very read, which began the transaction that writes; after a
guess is counted (its own transaction) and hashed, the function reads the DID itself, in
the transaction that writes it. Whichever way it was read, the change must still find
the DID when it is written: if another client deleted it meanwhile, the answer is that
the DID does not exist, and no admin_log row is written (wire.RowMissing).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from vicidid.about import API_PATH
from vicidid.auth import rules as auth
from vicidid.auth.hash_slots import Follow, Ticket
from vicidid.auth.throttle import Limit, address_key
from vicidid.core import audit, failures, idempotency, reads
from vicidid.core.call import Call, Done, Policy, Prefetched
from vicidid.core.dialects.vicidial import log_rows
from vicidid.core.functions import FUNCTIONS, dispatch, needs_login
from vicidid.core.login import Attempt, Claims, Gate, Verdict
from vicidid.core.outcomes import Kind, Outcome
from vicidid.core.params import Given, Params, merge
from vicidid.fields import DID_PATTERN, FUNCTION, IDEMPOTENCY_KEY, SOURCE, SOURCE_DID, USER
from vicidid.store import faults, reflect, sizes, wire
from vicidid.store import tables as t
from vicidid.store.db import (
    Kept,
    reading_first,
    transactional,
    write_transaction,
    writer_turns,
)
from vicidid.store.replica import Replica
from vicidid.store.statements import queries
from vicidid.store.statements import throttle as windows
from vicidid.store.wire import Read, Write

log = logging.getLogger("vicidid")
RETRIES = 3


@dataclass(frozen=True)
class Incoming:
    """A request as the HTTP edge (or a test) hands it over; the pipeline only reads it."""

    query: list[tuple[str, str]] = field(default_factory=list)
    form: list[tuple[str, str]] = field(default_factory=list)
    ip: str = "127.0.0.1"
    basic: tuple[str, str] | None = None  # HTTP Basic credentials
    path: str = API_PATH
    idempotency_key: str = ""  # the Idempotency-Key header
    as_json: bool = False
    # The dialect the edge answers in (core/dialects/answer.py renders it), needed to store
    # the first answer for an Idempotency-Key; None: answers are not stored.
    dialect: str | None = None


@dataclass(frozen=True)
class Pending:
    """A password check still to run, its guess counted already, its place reserved."""

    gate: Gate
    attempt: Attempt = field(repr=False)
    now: datetime
    claims: Claims
    ticket: Ticket

    def check(self) -> Verdict:
        return self.gate.verify(self.attempt, self.now, self.claims)

    def done(self) -> None:
        self.gate.slots.release(self.ticket)


@dataclass
class Reply:
    outcomes: list[Outcome]
    function: str
    params: Params
    dids: list[str] = field(default_factory=list)
    read_from: str = ""  # a read-only function: "replica", or "primary" (core/reads.py)
    url: str = ""  # the request's logged URL (core/audit.py), when the pipeline built it

    @property
    def kinds(self) -> list[Kind]:
        return [o.kind for o in self.outcomes]


@dataclass
class Request:
    """One request as the pipeline works on it: what it read of the incoming request once,
    and what it has done so far (the guess it counted, a password check it waited for)."""

    incoming: Incoming
    params: Params
    function: str
    user: str  # the user name as shown, until the login names the caller
    now: datetime
    started: float
    defer_hashing: bool
    claimed: list[Claims] = field(default_factory=list)  # a guess is counted once
    followed: bool = False  # waited once for the same check under way


@dataclass(frozen=True)
class Paused:
    """The pipeline stopped at a password check, to go on where it stopped (`resume`)
    once it is done: a check to run (`Pending`), or the same check under way elsewhere
    to wait for (`Follow`), whose verdict is remembered once it is done."""

    request: Request
    check: Pending | Follow


class Pipeline:
    def __init__(self, engine: Engine, policy: Policy, throttle: Limit | None = None) -> None:
        self.engine = engine
        self.kept = Kept(engine)  # each request thread's connection
        self.replica: Replica | None = None  # --read-url: reads of did_info and did_list
        self.policy = policy
        self.gate = Gate(policy, throttle)
        self._throttle_checked = False
        self._dids: sa.TableClause | None = None
        self.bulk_ids = False
        self.transactional = True  # read with the DID table's columns
        self._has_idempotency: bool | None = None
        self._turns = writer_turns(engine)  # SQLite: one writer at a time, in turn
        self.purge_timer = idempotency.PurgeTimer()
        faults.watch_writes(engine)

    def did_table(self) -> sa.TableClause:
        """The DID table with the columns the database really has, read once."""
        if self._dids is None:
            dids = reflect.did_table(self.engine)
            with self.kept.connect() as conn:
                self.bulk_ids = queries.consecutive_ids(conn)
                self.transactional = transactional(conn)
            sizes.load(self.engine)  # every column's size, for the values written
            self._dids = dids
        return self._dids

    def healthy(self) -> bool:
        for _ in range(2):  # the first try may meet a connection the server dropped
            try:
                with self.kept.connect() as conn:
                    queries.ping(conn)
                return True
            except sa_exc.DBAPIError as error:
                if not error.connection_invalidated:
                    return False
            except sa_exc.SQLAlchemyError:
                return False
        return False

    def handle(self, incoming: Incoming) -> Reply:
        """The whole request on this thread, a password hashed here too (the CLI, tests)."""
        step = self.start(incoming, defer_hashing=False)
        assert isinstance(step, Reply)  # nothing is deferred, so it never pauses
        return step

    def start(self, incoming: Incoming, defer_hashing: bool = True) -> Reply | Paused:
        """The request, up to a password check that must hash when `defer_hashing` (the
        HTTP edge hashes on threads of its own, then calls `resume`)."""
        params = Params(
            merge(incoming.query, incoming.form),
            filtering=self.policy.filtering,
            vicidial=self.policy.vicidial_names,
        )
        function = params.text(FUNCTION)
        now = datetime.now().replace(microsecond=0)
        request = Request(
            incoming,
            params,
            function,
            params.shown(USER)[:20],
            now,
            time.perf_counter(),
            defer_hashing,
        )
        if needs_login(function) and self.gate.throttled(incoming.ip):
            # counted in this process (no throttle table): refused before any database work
            user = self.gate.credentials(params, incoming.basic)[0][:20]
            return Reply([Outcome(Kind.THROTTLED, function=function, user=user)], function, params)
        return self._proceed(request, None)

    def resume(self, paused: Paused, verdict: Verdict | None) -> Reply | Paused:
        """Go on after the password check: with its verdict, or, having waited for the
        same check (`Follow`), with the login read again, which now finds it remembered."""
        request = paused.request
        if isinstance(paused.check, Follow):
            request.followed = True
        return self._proceed(request, verdict)

    def _proceed(self, request: Request, verdict: Verdict | None) -> Reply | Paused:
        """From the login (skipped when its verdict is given) to the answer, run again
        after a deadlock or a dropped connection where nothing of it can have stayed."""
        attempt = faults.Attempt()
        try:
            self.did_table()  # the schema read now, outside the transaction
            self.has_idempotency_table()
            self.throttle_table()
            for number in range(RETRIES):
                attempt = faults.Attempt()
                try:
                    step = self._attempt(request, verdict, attempt)
                    break
                except idempotency.KeyTaken:
                    if number + 1 == RETRIES:
                        raise
                except (sa_exc.OperationalError, sa_exc.InterfaceError) as error:
                    if number + 1 == RETRIES or not faults.may_rerun(
                        error, attempt, self.transactional
                    ):
                        raise
                    log.warning("running the transaction again after %s", faults.describe(error))
        except Exception as error:
            function, params = request.function, request.params
            subject = params.shown(SOURCE_DID if function == "copy_did" else DID_PATTERN)
            failed = failures.answer(
                error, attempt, self.transactional, function, request.user, subject
            )
            step = Reply([failed], function, params)
        if isinstance(step, Reply):
            self._purge_expired_keys(request.now)
        return step

    def _attempt(
        self, request: Request, verdict: Verdict | None, attempt: faults.Attempt
    ) -> Reply | Paused:
        """One run: the login, then the function and its log rows in one transaction."""
        function, params = request.function, request.params
        replica_reads = self.replica is not None and reads.reads_only(function)
        with self.kept.connect() as conn:
            if not self.transactional:  # MyISAM: nothing to commit
                wire.use_autocommit(conn)
            # what its api_log rows share, built before anything is written
            logged = audit.Request.of(conn, function, params, request.incoming.path)
            prefetched = None
            if needs_login(function):  # the login, checked before any lock
                found = self._login(conn, request, verdict, not replica_reads)
                if isinstance(found, Paused):  # the hashing is still to run
                    return found
                verdict, prefetched = found
            # the replica only for a caller let in: a refused login costs it nothing
            admitted = verdict is not None and verdict.admitted
            with (
                reads.reading(self.replica, function, admitted) as (replica, read_from),
                faults.tracking(attempt),
                self._turns,
                write_transaction(conn),
            ):
                changes: list[str] = []  # the DIDs it touched
                done, request.user = self._run(conn, verdict, request, changes, prefetched, replica)
                outcomes = done.outcomes
                try:
                    self._finish(conn, done.writes, outcomes, logged, request)
                except wire.RowMissing:
                    if not done.if_gone:  # no function changes a row without one
                        raise
                    # deleted since it was read: the change and its admin_log row did not
                    # run; the answer is the one for a DID not found
                    outcomes = list(done.if_gone)
                    changes.clear()
                    self._finish(conn, (), outcomes, logged, request)
                attempt.committing = True
        return Reply(outcomes, function, params, changes, read_from, logged.whole_url)

    def _finish(
        self,
        conn: Connection,
        writes: tuple[Write, ...],
        outcomes: list[Outcome],
        logged: audit.Request,
        request: Request,
    ) -> None:
        """The function's closing writes, then the answer's api_log rows."""
        audit.finish(
            conn,
            list(writes),
            log_rows(outcomes, whole=self.policy.whole_echoes),
            logged,
            request.user,
            request.incoming.ip,
            request.now,
            time.perf_counter() - request.started,
            bulk=self.bulk_ids,
        )

    def _purge_expired_keys(self, now: datetime) -> None:
        """Delete expired Idempotency-Keys and throttle windows, at most once a minute,
        outside any request's change."""
        if not self.purge_timer.due():
            return
        try:
            limit = self.gate.limit if self.gate.shared else None
            if not self.has_idempotency_table() and limit is None:
                return
            with self._turns, self.kept.begin() as conn:
                if self.has_idempotency_table():
                    idempotency.purge(conn, now)
                if limit is not None:
                    windows.purge(conn, int(self.gate.clock()), limit)
        except sa_exc.SQLAlchemyError as error:
            log.warning("purging expired keys and windows failed: %s", type(error).__name__)

    def _declared_read(
        self, conn: Connection, params: Params, function: str, dids: sa.TableClause
    ) -> Read | None:
        """The DID read the function declares, to send with the login's read.

        Only where round trips cost (MariaDB/MySQL): on SQLite the function reads inside
        its write transaction, as before.
        """
        known = FUNCTIONS.get(function)
        if known is None or not known.reads_did or not wire.direct(conn):
            return None
        pattern = params.read(DID_PATTERN)
        if not isinstance(pattern, Given):
            return None
        return queries.did_read(dids, pattern.value, known.reads_did)

    def _login(
        self, conn: Connection, request: Request, verdict: Verdict | None, prefetch: bool
    ) -> tuple[Verdict, Prefetched | None] | Paused:
        """The login's verdict, with the DID row read along with it, or the pause for a
        password check to run first off this thread (or to wait for).

        Only a verdict settled in the login's own read keeps the DID row read with it: that
        read began the transaction that writes (store/db.py write_transaction). A guess is
        counted in a transaction of its own and hashed after it, maybe on other threads:
        the function then reads the DID itself, in the transaction that writes it.
        """
        incoming = request.incoming
        if verdict is not None:  # checked while the pipeline was paused
            return self.gate.screen(conn, verdict, incoming.ip), None
        also = None
        if prefetch:
            also = self._declared_read(conn, request.params, request.function, self.did_table())
        attempt, rows = self.gate.read(
            reading_first(conn), request.params, incoming.basic, incoming.ip, also
        )
        quick = self.gate.quick(attempt, request.now)
        if quick is not None:
            prefetched = None
            if also is not None and rows is not None:
                pattern = request.params.read(DID_PATTERN)
                assert isinstance(pattern, Given)  # _declared_read read it only then
                columns = FUNCTIONS[request.function].reads_did
                prefetched = Prefetched(pattern.value, columns, rows[0] if rows else None)
            return self.gate.screen(conn, quick, incoming.ip), prefetched
        found = self._guess(conn, attempt, request)
        if isinstance(found, Paused):
            return found
        return self.gate.screen(conn, found, incoming.ip), None

    def _guess(self, conn: Connection, attempt: Attempt, request: Request) -> Verdict | Paused:
        """A guess, counted before it is checked; hashed off this thread when it must be."""
        gate, now = self.gate, request.now
        costly = gate.costly(attempt, now)
        if not (request.defer_hashing and costly):
            # not costly: `quick` checked it already, and it is wrong
            claims = self._claim(conn, attempt, request, wrong=not costly)
            return claims if isinstance(claims, Verdict) else gate.verify(attempt, now, claims)
        ticket = gate.reserve(attempt, follow=not request.followed)
        if isinstance(ticket, Verdict):
            return ticket  # no place to wait: nothing counted
        if isinstance(ticket, Follow):
            return Paused(request, ticket)  # the same check under way: nothing counted
        try:
            claims = self._claim(conn, attempt, request)
        except BaseException:
            gate.slots.release(ticket)  # the place goes back, whatever failed
            raise
        if isinstance(claims, Verdict):
            gate.slots.release(ticket)
            return claims
        return Paused(request, Pending(gate, attempt, now, claims, ticket))

    def _claim(
        self, conn: Connection, attempt: Attempt, request: Request, wrong: bool = False
    ) -> Claims | Verdict:
        """The guess counted, in a transaction of its own that commits before any check."""
        if request.claimed:  # counted by an earlier try of this request
            return request.claimed[0]
        with self._turns, write_transaction(conn):
            claims = self.gate.claim(conn, attempt, request.now, wrong)
        if isinstance(claims, Claims):
            request.claimed.append(claims)
        return claims

    def _run(
        self,
        conn: Connection,
        verdict: Verdict | None,
        request: Request,
        changes: list[str],
        prefetched: Prefetched | None,
        reads_on: Connection | None = None,
    ) -> tuple[Done, str]:
        """The function's answer and the caller's name, or the login's refusal."""
        dids = self.did_table()
        params, function, incoming, now = (
            request.params,
            request.function,
            request.incoming,
            request.now,
        )
        if verdict is None:  # a function that needs no login (version): a call without a caller
            call = Call(conn, params, self.policy, None, function, "", incoming.ip, now, dids)
            return dispatch(call), call.user
        refused = self.gate.settle(conn, verdict, function, incoming.ip, now)
        if refused is not None:
            return Done(refused), verdict.user
        row = verdict.row
        assert row is not None
        user = row["user"]

        if not function:
            return Done([Outcome(Kind.NO_FUNCTION, user=user)]), user
        if function not in FUNCTIONS:
            unknown = Outcome(Kind.UNKNOWN_FUNCTION, function=function, user=user, value=function)
            return Done([unknown]), user
        source = params.read(SOURCE)
        if not (isinstance(source, Given) and 2 <= len(source.value) <= SOURCE.max_len):
            shown = params.shown(SOURCE)
            invalid = Outcome(Kind.INVALID_SOURCE, function=function, user=user, value=shown)
            return Done([invalid]), user
        if not auth.function_allowed(row, function):
            return Done([Outcome(Kind.FUNCTION_NOT_ALLOWED, function=function, user=user)]), user
        call = Call(
            reads_on or conn,  # a read-only function's reads on the replica
            params,
            self.policy,
            row,
            function,
            source.value,
            incoming.ip,
            now,
            dids,
            changes,
            self.bulk_ids,
            self.transactional,
            prefetched,
        )
        key = incoming.idempotency_key or params.text(IDEMPOTENCY_KEY)
        if key and FUNCTIONS[function].idempotent:
            # an answer is stored only where the edge says how it renders (its dialect)
            stored_as = incoming.dialect if self.has_idempotency_table() else None
            return idempotency.once(call, key, stored_as, incoming.as_json), user
        return dispatch(call), user

    def claim_passed_on(self, ip: str) -> Claims | None:
        """A request passed on to VICIdial's PHP, counted on its address before it goes, as
        any guess is; None when the address is over the throttle."""
        self.throttle_table()
        if not self.gate.shared:  # off, or counted in this process: no database work
            return self.gate.claim_address(None, address_key(ip))
        with self._turns, self.kept.begin() as conn:
            return self.gate.claim_address(conn, address_key(ip))

    def give_back_passed_on(self, ip: str, claims: Claims) -> None:
        """PHP did not answer a failed login: the request's claim goes back."""
        if claims.window is None:
            return
        if not self.gate.shared:
            self.gate.give_back(None, address_key(ip), claims)
            return
        with self._turns, self.kept.begin() as conn:
            self.gate.give_back(conn, address_key(ip), claims)

    def throttle_table(self) -> None:
        """Where the throttle counts, decided once: the database's table, or this process."""
        if self._throttle_checked or self.gate.limit is None:
            return
        if t.login_throttle.name not in reflect.table_names(self.engine):
            self.gate.use_memory()
            log.warning(
                "%s is missing: the login throttle counts in each worker on its own; "
                "`vicidid init-db --add-missing` adds it",
                t.login_throttle.name,
            )
        # set last: a request arriving meanwhile looks again, never claims in a missing table
        self._throttle_checked = True

    def has_idempotency_table(self) -> bool:
        if self._has_idempotency is None:
            self._has_idempotency = t.idempotency.name in reflect.table_names(self.engine)
        return self._has_idempotency
