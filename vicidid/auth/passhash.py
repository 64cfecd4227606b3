"""VICIdial's password hash: bcrypt over the password, salted with the system's pass_key.

With `pass_hash_enabled=1`, VICIdial encodes the 16-character `system_settings.pass_key`
with bcrypt's base-64 alphabet into the 22-character salt, runs bcrypt `$2a$` at cost
`pass_cost` and stores only the 31 characters after the `$2a$NN$salt` prefix in
`vicidial_users.pass_hash`. Hashes made here verify in VICIdial and the reverse.
"""

from __future__ import annotations

import hmac
import secrets
import string

import bcrypt

from vicidid.auth.blowfish import eksblowfish

ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
KEY_LENGTH = 16
STORED_LENGTH = 31
LIBRARY_MIN_COST = 4  # the bcrypt package refuses lower costs


def b64encode(data: bytes) -> str:
    """bcrypt's base 64: its own alphabet, no padding."""
    out = []
    for i in range(0, len(data), 3):
        chunk = data[i : i + 3]
        n = int.from_bytes(chunk.ljust(3, b"\x00"), "big")
        chars = [ALPHABET[(n >> shift) & 0x3F] for shift in (18, 12, 6, 0)]
        out.extend(chars[: len(chunk) + 1])
    return "".join(out)


def salt_from_key(pass_key: str) -> str:
    return b64encode(pass_key.encode("latin-1"))[:22]


def _check(pass_key: str, cost: int) -> None:
    if len(pass_key) != KEY_LENGTH:
        raise ValueError(f"pass_key must be {KEY_LENGTH} characters, not {len(pass_key)}")
    if not 2 <= cost <= 31:
        raise ValueError(f"pass_cost must be 2 to 31, not {cost}")


def hash_password(password: str, pass_key: str, cost: int) -> str:
    """The 31 characters VICIdial stores in pass_hash."""
    _check(pass_key, cost)
    secret = password.encode()[:72]  # bcrypt reads at most 72 bytes, as crypt() does
    if cost >= LIBRARY_MIN_COST:
        full = bcrypt.hashpw(secret, f"$2a${cost:02d}${salt_from_key(pass_key)}".encode())
        return full.decode()[29:]
    return b64encode(eksblowfish(secret, pass_key.encode("latin-1"), cost))


def verify_password(password: str, stored_hash: str, pass_key: str, cost: int) -> bool:
    if len(stored_hash or "") != STORED_LENGTH:
        return False
    try:
        computed = hash_password(password, pass_key, cost)
    except (ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(computed.encode(), stored_hash.encode())


def random_pass_key() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(KEY_LENGTH))
