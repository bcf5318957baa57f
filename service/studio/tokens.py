"""Edit tokens and API keys: random secrets handed out once and stored only as hashes.

An edit token (``fae_`` + 256 random bits) opens one map; an API key (``fak_`` + 256
bits) opens the maps created with it. Both are high-entropy, so a single SHA-256
is enough to store them (a slow password hash protects guessable secrets, not these).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

EDIT_PREFIX = "fae_"
KEY_PREFIX = "fak_"
TOKEN_BYTES = 32  # 256 bits, above the 128 the issue asks for


def new_edit_token() -> str:
    """A fresh edit token (shown to the creator once)."""
    return EDIT_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def new_api_key() -> str:
    """A fresh API key (shown once, by ``frontier-atlas keys create``)."""
    return KEY_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The hex SHA-256 stored in place of a token."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def matches(token: str, stored_hash: str) -> bool:
    """True when *token* hashes to *stored_hash* (constant-time comparison)."""
    return hmac.compare_digest(token_hash(token), stored_hash)


def new_map_id() -> str:
    """A short public map id: 12 lower-case base-32 characters (60 random bits)."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def new_key_id() -> str:
    """The public id of an API key (listed and revoked by it)."""
    return "key_" + secrets.token_hex(4)
