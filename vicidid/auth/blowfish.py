"""bcrypt's Eksblowfish in pure Python, for the costs C libraries refuse (2 and 3).

VICIdial's default `pass_cost` is 2, below the minimum of 4 that bcrypt libraries accept,
though the algorithm itself allows it. Costs 2 and 3 mean 4 and 8 rounds of the key
schedule: fast enough in Python. Higher costs go to the `bcrypt` package.
"""

from __future__ import annotations

from functools import cache

MASK = 0xFFFFFFFF
MAGIC = b"OrpheanBeholderScryDoubt"


@cache
def pi_words() -> tuple[int, ...]:
    """Blowfish's initial P-array and S-boxes: the hexadecimal digits of pi after the point."""
    words = 18 + 4 * 256
    bits = words * 32 + 64  # guard bits against rounding in the last word

    def arctan_inverse(x: int) -> int:  # arctan(1/x), in fixed point with `bits` bits
        total = term = (1 << bits) // x
        n, x2, sign = 1, x * x, -1
        while term:
            term //= x2
            n += 2
            total += sign * (term // n)
            sign = -sign
        return total

    pi = 16 * arctan_inverse(5) - 4 * arctan_inverse(239)  # Machin's formula
    fraction = (pi >> 64) & ((1 << (words * 32)) - 1)
    return tuple((fraction >> (32 * (words - 1 - i))) & MASK for i in range(words))


class _State:
    def __init__(self) -> None:
        w = pi_words()
        self.p = list(w[:18])
        self.s = [list(w[18 + 256 * i : 18 + 256 * (i + 1)]) for i in range(4)]

    def encrypt(self, left: int, right: int) -> tuple[int, int]:
        p, s0, s1, s2, s3 = self.p, *self.s
        for i in range(16):
            left ^= p[i]
            right ^= (
                ((s0[left >> 24] + s1[(left >> 16) & 0xFF]) & MASK ^ s2[(left >> 8) & 0xFF])
                + s3[left & 0xFF]
            ) & MASK
            left, right = right, left
        left, right = right, left
        return left ^ p[17], right ^ p[16]

    def expand(self, key: list[int], salt: list[int] | None) -> None:
        """One key schedule step: mix the key into P, then re-encrypt P and S (with salt)."""
        for i in range(18):
            self.p[i] ^= key[i % len(key)]
        left = right = 0
        n = 0
        boxes = [self.p, *self.s]
        for box in boxes:
            for i in range(0, len(box), 2):
                if salt:
                    left ^= salt[n % 4]
                    right ^= salt[(n + 1) % 4]
                    n += 2
                left, right = self.encrypt(left, right)
                box[i], box[i + 1] = left, right


def _words(data: bytes) -> list[int]:
    """Cyclic big-endian 32-bit words, as Blowfish's key schedule reads its key."""
    return [
        int.from_bytes(bytes(data[(4 * i + j) % len(data)] for j in range(4)), "big")
        for i in range(18)
    ]


def eksblowfish(password: bytes, salt: bytes, cost: int) -> bytes:
    """The 23 bytes bcrypt encodes: `$2a$` semantics (key = password + NUL, at most 72)."""
    key = _words((password + b"\x00")[:72])
    salt_words = [int.from_bytes(salt[i : i + 4], "big") for i in range(0, 16, 4)]
    state = _State()
    state.expand(key, salt_words)
    salt_key = _words(salt)
    for _ in range(1 << cost):
        state.expand(key, None)
        state.expand(salt_key, None)
    blocks = [int.from_bytes(MAGIC[i : i + 4], "big") for i in range(0, 24, 4)]
    for _ in range(64):
        for i in range(0, 6, 2):
            blocks[i], blocks[i + 1] = state.encrypt(blocks[i], blocks[i + 1])
    return b"".join(b.to_bytes(4, "big") for b in blocks)[:23]
