"""Compute what deduplication compares: hashes, MinHash and evidence."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.pipeline.normalize import Normalized
from services.pipeline.tag import Tag


@dataclass(frozen=True)
class Fingerprint:
    content_hash: str
    keys: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


def fingerprint(
    normalized: Normalized, language: str, tags: Sequence[Tag]
) -> Fingerprint:
    """Return the fingerprint of a normalized document. Pure.

    `data` must stay JSON-serializable: it is stored with the document and
    handed back inside a `Candidate`.
    """
    digest = hashlib.sha256(normalized.matching_text.encode()).hexdigest()
    return Fingerprint(content_hash=digest)
