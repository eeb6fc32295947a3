"""Secrets: enrollment tokens, device secrets, IT passwords.

Tokens and device secrets are ``<id>.<random>``: the id finds the row, the
whole string is compared (SHA-256, constant time) with the stored hash. They
are 256-bit random values, so a fast hash is right for them; passwords, which
people choose, use scrypt.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_DUMMY = hashlib.sha256(b"no such row").hexdigest()


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_secret(ident: str) -> tuple[str, str]:
    """(secret, its hash) for a row with id ``ident``."""
    secret = f"{ident}.{secrets.token_urlsafe(32)}"
    return secret, sha256_hex(secret)


def split_secret(secret: str) -> str | None:
    """The row id a presented secret names, or None when it is malformed."""
    if not secret or len(secret) > 200 or "." not in secret:
        return None
    ident = secret.split(".", 1)[0]
    return ident if ident.isalnum() and len(ident) <= 32 else None


def matches(secret: str, stored_hash: str | None) -> bool:
    """Constant-time comparison; a missing row still costs one comparison."""
    ok = hmac.compare_digest(sha256_hex(secret), stored_hash or _DUMMY)
    return ok and stored_hash is not None


_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt)}${b64(digest)}"


_DUMMY_PW = None


def check_password(password: str, stored: str | None) -> bool:
    global _DUMMY_PW
    if stored is None:  # same cost as a real check, so usernames cannot be probed by timing
        if _DUMMY_PW is None:
            _DUMMY_PW = hash_password("x")
        stored, real = _DUMMY_PW, False
    else:
        real = True
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt),
                             n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest)) and real
