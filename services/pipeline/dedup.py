"""Decide whether a document repeats, edits or translates a stored one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.pipeline.fingerprint import Fingerprint

EXACT = "exact_duplicate"
NEAR = "near_duplicate"
TRANSLATION = "translation"


@dataclass(frozen=True)
class Candidate:
    document_id: str
    story_id: str
    language: str
    published_at: datetime | None
    fingerprint: Fingerprint


@dataclass(frozen=True)
class Match:
    document_id: str
    story_id: str
    relation: str
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)


def decide(
    fingerprint: Fingerprint,
    language: str,
    published_at: datetime | None,
    candidates: Sequence[Candidate],
) -> Match | None:
    """Return the best match among the candidates, or None for a new story."""
    for candidate in candidates:
        if candidate.fingerprint.content_hash == fingerprint.content_hash:
            return Match(
                candidate.document_id,
                candidate.story_id,
                EXACT,
                1.0,
                {"content_hash": fingerprint.content_hash},
            )
    return None
