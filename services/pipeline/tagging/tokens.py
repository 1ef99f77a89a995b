"""A text as tokens: folded forms, stemmed variants and spans in the original.

Tokens are whole words of the text folded as `text.fold` folds it; each
keeps its (start, end) in the original text, which every tag's offsets
refer to. Whitespace collapsing and compatibility decomposition change
lengths, so the fold is done per character rather than taken from
`Normalized.matching_text`.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right

from services.pipeline.text.fold import fold
from services.pipeline.text.stems import variants

TOKEN = re.compile(r"[^\W_]+")
# What may stand between two words of one name or phrase.
JOINER = re.compile(r"[ \u00a0\-\u2010\u2011]*")
_SENTENCE_END = re.compile(r"[.!?؟。]+[\"'”’»)]*\s|\n")


class Tokens:
    """Tokens of one text with their spans in the original."""

    def __init__(self, text: str) -> None:
        self.text = text
        folded, origin = fold(text)
        self.forms: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        for match in TOKEN.finditer(folded):
            start, end = match.span()
            if origin is not None:
                start, end = origin[start], origin[end - 1] + 1
                while end < len(text) and unicodedata.combining(text[end]):
                    end += 1
            self.forms.append(match.group())
            self.starts.append(start)
            self.ends.append(end)
        self.variants = [variants(form) for form in self.forms]
        self.plain_variants = [variants(form, plain=True) for form in self.forms]
        self._sentence_starts: list[int] | None = None

    def __len__(self) -> int:
        return len(self.forms)

    def surface(self, i: int) -> str:
        return self.text[self.starts[i] : self.ends[i]]

    def gap(self, i: int) -> str:
        """Return the text between token i-1 and token i."""
        return self.text[self.ends[i - 1] if i > 0 else 0 : self.starts[i]]

    def capitalized(self, i: int) -> bool:
        first = self.text[self.starts[i]]
        return first.isupper() or first.lower() == first.upper()

    def span(self, i: int, j: int) -> tuple[int, int]:
        return self.starts[i], self.ends[j - 1]

    def sentence_starts(self) -> list[int]:
        if self._sentence_starts is None:
            self._sentence_starts = [0] + [m.end() for m in _SENTENCE_END.finditer(self.text)]
        return self._sentence_starts

    def sentence(self, offset: int) -> str:
        starts = self.sentence_starts()
        index = bisect_right(starts, offset) - 1
        end = starts[index + 1] if index + 1 < len(starts) else len(self.text)
        return self.text[starts[index] : end].strip()[:400]

    def same_sentence(self, i: int, j: int) -> bool:
        starts = self.sentence_starts()
        return bisect_right(starts, self.starts[i]) == bisect_right(starts, self.starts[j])
