"""Repository functions for API keys: create, authenticate, revoke, list.

A token is shown once, when it is created; the database keeps its SHA-256
and a short public prefix that names the key. A token is high-entropy random
(256 bits), so an unsalted fast hash is enough: nothing can be guessed from it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.storage.models import ApiKey, utcnow

INGEST = "ingest"
READ = "read"
ADMIN = "admin"
SCOPES = (INGEST, READ, ADMIN)

TOKEN_HEAD = "nik_"


@dataclass(frozen=True)
class Created:
    key: ApiKey
    token: str


def parse_scopes(text: str | Iterable[str]) -> tuple[str, ...]:
    """Return the scopes named in `ingest,read` (or a list), in canonical order.

    Raises ValueError for an unknown or missing scope.
    """
    names = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    unknown = sorted(set(names) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope {', '.join(unknown)}; choose from {', '.join(SCOPES)}")
    if not names:
        raise ValueError(f"name at least one scope of {', '.join(SCOPES)}")
    return tuple(scope for scope in SCOPES if scope in names)


def scopes_of(key: ApiKey) -> frozenset[str]:
    """Return the scopes the key grants."""
    return frozenset(key.scopes.split())


def hash_token(token: str) -> str:
    """Return the stored form of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create(session: Session, name: str, scopes: Iterable[str]) -> Created:
    """Create a key and return it with its token; the token is not stored. Caller commits."""
    granted = parse_scopes(list(scopes))
    prefix = f"{TOKEN_HEAD}{secrets.token_hex(4)}"
    while session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is not None:
        prefix = f"{TOKEN_HEAD}{secrets.token_hex(4)}"
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(prefix=prefix, key_hash=hash_token(token), name=name, scopes=" ".join(granted))
    session.add(key)
    session.flush()
    return Created(key, token)


def authenticate(session: Session, token: str) -> ApiKey | None:
    """Return the active key the token belongs to, or None.

    The lookup is by hash, so no comparison leaks how much of a token matched;
    the final check compares the hashes in constant time.
    """
    if not token.startswith(TOKEN_HEAD) or len(token) > 200:
        return None
    digest = hash_token(token)
    key = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).first()
    if key is None or key.revoked_at is not None:
        return None
    return key if hmac.compare_digest(key.key_hash, digest) else None


def revoke(session: Session, prefix: str) -> bool:
    """Revoke the key with this prefix; False if there is no active one. Caller commits."""
    key = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    return True


def list_all(session: Session) -> list[ApiKey]:
    """Return every key, revoked ones included, oldest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.prefix)))
