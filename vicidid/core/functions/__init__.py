"""The `function=` registry: every fact about each function, in one mapping by name.

The pipeline dispatches through it; the login, permissions, idempotency, the dialects'
wording, the metrics' labels, the fallback, the OpenAPI document and the tests read their
facts from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vicidid.auth import rules as auth
from vicidid.core.call import Call, Done
from vicidid.core.functions import add_did, copy_did, did_info, did_list, update_did, version
from vicidid.core.outcomes import Kind, Outcome
from vicidid.fields import Field


@dataclass(frozen=True)
class Function:
    name: str
    # its answer, or its answer with the writes it leaves for the pipeline to send
    run: Callable[[Call], list[Outcome] | Done]
    parameters: tuple[Field, ...]
    summary: str
    changes_dids: bool = True  # False: it only reads, so the modify permission is not needed
    adds_dids: bool = False  # its answers say "ADD DIDS" rather than "UPDATE DIDS"
    idempotent: bool = False  # an Idempotency-Key makes a retry replay the first answer
    needs_login: bool = True  # False: answered to anyone, its Call has no caller (version)
    # The DID columns it reads by did_pattern first: read with the login, in one round trip
    reads_did: tuple[str, ...] = ()


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function(
            "version",
            version.run,
            (),
            "the version line, no login needed",
            changes_dids=False,
            needs_login=False,
        ),
        Function(
            "update_did",
            update_did.run,
            update_did.PARAMETERS,
            "Change a DID's settings, or delete it with delete_did=Y",
            reads_did=update_did.READ,
        ),
        Function(
            "copy_did",
            copy_did.run,
            copy_did.PARAMETERS,
            "Copy a DID's settings onto one or more new DIDs",
            adds_dids=True,
            idempotent=True,
        ),
        Function(
            "add_did",
            add_did.run,
            add_did.PARAMETERS,
            "Add a new DID",
            adds_dids=True,
            idempotent=True,
        ),
        Function(
            "did_info",
            did_info.run,
            did_info.PARAMETERS,
            "Every column of one DID (vicidid extension)",
            changes_dids=False,
        ),
        Function(
            "did_list",
            did_list.run,
            did_list.PARAMETERS,
            "A filtered, paged listing of DIDs (vicidid extension)",
            changes_dids=False,
        ),
    )
}


def needs_login(name: str) -> bool:
    """Whether a request for this function is answered only after a login: all but version."""
    function = FUNCTIONS.get(name)
    return function is None or function.needs_login


def dispatch(call: Call) -> Done:
    """Run the call's function for a caller allowed to read, or to change, DIDs."""
    function = FUNCTIONS[call.function]
    if function.needs_login and not auth.may_use(call.caller, changes_dids=function.changes_dids):
        return Done(call.answer(Kind.NO_PERMISSION))
    done = function.run(call)
    return done if isinstance(done, Done) else Done(done)
