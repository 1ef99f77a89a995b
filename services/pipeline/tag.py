"""Tag a document with language-independent identifiers."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.pipeline.normalize import Normalized

TAXONOMY_VERSION = "0"


@dataclass(frozen=True)
class Tag:
    id: str
    label: str
    score: float = 1.0
    label_local: str | None = None
    evidence: str | None = None
    offsets: tuple[tuple[int, int], ...] = field(default=())

    @property
    def kind(self) -> str:
        return self.id.split(":", 1)[0]


def tag(normalized: Normalized, language: str) -> list[Tag]:
    """Return the document's tags, sorted by id. Never raises on any text."""
    return [Tag(id=f"lang:{language}", label=language)]
