"""Detect the language of a text."""

from __future__ import annotations

from dataclasses import dataclass

UNDETERMINED = "und"


@dataclass(frozen=True)
class LanguageGuess:
    code: str
    confidence: float


def detect_language(text: str, hint: str | None = None) -> LanguageGuess:
    """Return the ISO 639-1 code of the text's language, or `und`."""
    import py3langid

    if len(text.strip()) < 20:
        return LanguageGuess(hint or UNDETERMINED, 0.0)
    code, _ = py3langid.classify(text)
    return LanguageGuess(code, 1.0)
