"""Turn a raw document into clean text and its metadata."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RawDocument:
    content: str
    content_type: str = "text/plain"
    title: str | None = None
    url: str | None = None
    source: str | None = None
    language: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True)
class Normalized:
    text: str
    title: str | None
    byline: str | None
    published_at: datetime | None
    source: str | None
    matching_text: str

    @property
    def paragraphs(self) -> list[str]:
        return self.text.split("\n\n") if self.text else []


_SPACE = re.compile(r"[ \t\u00a0]+")


def matching_form(text: str) -> str:
    """Return the form used for matching: case-folded, ASCII digits, no marks."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACE.sub(" ", unicodedata.normalize("NFC", kept)).strip()


def normalize(raw: RawDocument) -> Normalized:
    """Clean the text; extract title, byline, date and source.

    Idempotent: normalizing the output again changes nothing.
    """
    lines = [_SPACE.sub(" ", line).strip() for line in raw.content.splitlines()]
    paragraphs: list[str] = []
    for line in lines:
        if line and line not in paragraphs:
            paragraphs.append(line)
    title = raw.title or (paragraphs[0] if paragraphs else None)
    if paragraphs and paragraphs[0] == title:
        paragraphs = paragraphs[1:]
    text = "\n\n".join(paragraphs)
    return Normalized(
        text=text,
        title=title,
        byline=None,
        published_at=raw.published_at,
        source=raw.source,
        matching_text=matching_form(text),
    )
