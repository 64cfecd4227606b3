"""Placeholder until the full implementation lands (cost >= 4 only)."""

import hmac
import secrets
import string

import bcrypt

B64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def salt_from_key(pass_key: str) -> str:
    data = pass_key.encode()
    out = []
    i = 0
    while i < len(data):
        c1 = data[i]
        i += 1
        out.append(B64[c1 >> 2])
        c1 = (c1 & 0x03) << 4
        if i >= len(data):
            out.append(B64[c1])
            break
        c2 = data[i]
        i += 1
        c1 |= c2 >> 4
        out.append(B64[c1])
        c1 = (c2 & 0x0F) << 2
        if i >= len(data):
            out.append(B64[c1])
            break
        c2 = data[i]
        i += 1
        c1 |= c2 >> 6
        out.append(B64[c1])
        out.append(B64[c2 & 0x3F])
    return "".join(out)[:22]


def hash_password(password: str, pass_key: str, cost: int) -> str:
    salt = f"$2a${cost:02d}${salt_from_key(pass_key)}".encode()
    return bcrypt.hashpw(password.encode()[:72], salt).decode()[29:]


def verify_password(password: str, stored_hash: str, pass_key: str, cost: int) -> bool:
    try:
        return hmac.compare_digest(hash_password(password, pass_key, cost), stored_hash)
    except ValueError:
        return False


def random_pass_key() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
