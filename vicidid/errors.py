"""The root of vicidid's own errors, so a caller catches one class instead of a list."""

from __future__ import annotations


class VicididError(Exception):
    """Something vicidid cannot do; the message says why, in words fit for an operator.

    Every error the server, the store and the command line raise on purpose derives from
    it. The client's ApiError does not: it carries an answer from a server, not a fault here.
    """
