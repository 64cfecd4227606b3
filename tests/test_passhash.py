"""VICIdial's bcrypt pass_hash: its own test vectors, and the pure path against the library."""

from __future__ import annotations

import bcrypt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vicidid.auth import passhash
from vicidid.auth.blowfish import eksblowfish, pi_words

KEY = "0123456789abcdef"


def test_salt_from_vicidial_key():
    assert passhash.salt_from_key(KEY) == "KBCwKxOzLha2MUDgW0PjXe"


@pytest.mark.parametrize(
    ("cost", "stored"),
    [
        (2, "ZTpQ8cNrtrbzVhQroLyPsmOEb8xk4LO"),  # VICIdial's default cost: below the library's
        (10, "t1jh0E.gFM2fsPVIpYpsqArzucd1Aj6"),
    ],
)
def test_vicidial_vectors(cost, stored):
    assert passhash.hash_password("1234", KEY, cost) == stored
    assert passhash.verify_password("1234", stored, KEY, cost)
    assert not passhash.verify_password("1235", stored, KEY, cost)


def test_blowfish_starts_from_pi():
    words = pi_words()
    assert (words[0], words[17], words[18], words[-1]) == (
        0x243F6A88,
        0x8979FB1B,
        0xD1310BA6,
        0x3AC372E6,
    )


def pure(password: str, key: str, cost: int) -> str:
    return passhash.b64encode(eksblowfish(password.encode()[:72], key.encode(), cost))


@pytest.mark.parametrize("password", ["", "1234", "pässwörd", "x" * 80, "a:b|c d"])
def test_pure_path_agrees_with_the_library(password):
    assert pure(password, KEY, 4) == passhash.hash_password(password, KEY, 4)


@settings(max_examples=8, deadline=None)
@given(
    password=st.text(max_size=30), key=st.text(alphabet="abcXYZ0189./", min_size=16, max_size=16)
)
def test_pure_path_agrees_for_any_password_and_key(password, key):
    full = bcrypt.hashpw(password.encode()[:72], f"$2a$04${passhash.salt_from_key(key)}".encode())
    assert pure(password, key, 4) == full.decode()[29:]


def test_cost_3_differs_from_cost_2():
    assert passhash.hash_password("1234", KEY, 3) != passhash.hash_password("1234", KEY, 2)
    assert len(passhash.hash_password("1234", KEY, 3)) == 31


@pytest.mark.parametrize(("key", "cost"), [("short", 4), (KEY, 1), (KEY, 32)])
def test_bad_settings(key, cost):
    with pytest.raises(ValueError):
        passhash.hash_password("1234", key, cost)
    assert passhash.verify_password("1234", "x" * 31, key, cost) is False


@pytest.mark.parametrize("stored", ["", "short", "x" * 31, None])
def test_malformed_stored_hash_is_false(stored):
    assert passhash.verify_password("1234", stored, KEY, 4) is False


def test_random_pass_key():
    keys = {passhash.random_pass_key() for _ in range(20)}
    assert len(keys) == 20 and all(len(k) == 16 and k.isalnum() for k in keys)
