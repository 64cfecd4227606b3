"""The `function=` registry: one mapping from name to handler and its parameters.

The pipeline dispatches through it; the OpenAPI document and the tests read it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vicidid.call import Call
from vicidid.fields import Field
from vicidid.functions import add_did, copy_did, did_info, did_list, update_did
from vicidid.outcomes import Outcome


@dataclass(frozen=True)
class Function:
    name: str
    run: Callable[[Call], list[Outcome]]
    parameters: tuple[Field, ...]
    summary: str
    changes: bool = True


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function(
            "update_did",
            update_did.run,
            update_did.PARAMETERS,
            "Change a DID's settings, or delete it with delete_did=Y",
        ),
        Function(
            "copy_did",
            copy_did.run,
            copy_did.PARAMETERS,
            "Copy a DID's settings onto one or more new DIDs",
        ),
        Function("add_did", add_did.run, add_did.PARAMETERS, "Add a new DID"),
        Function(
            "did_info",
            did_info.run,
            did_info.PARAMETERS,
            "Every column of one DID (vicidid extension)",
            changes=False,
        ),
        Function(
            "did_list",
            did_list.run,
            did_list.PARAMETERS,
            "A filtered, paged listing of DIDs (vicidid extension)",
            changes=False,
        ),
    )
}
