"""Unguessable tokens (a cart's cookie, an order's address) and the hash under which they are kept:
the database holds only hashes of what a visitor's browser or Stripe keeps secret."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 in hex: enough to recognise a token again, useless to whoever reads the database."""
    return hashlib.sha256(token.encode()).hexdigest()
