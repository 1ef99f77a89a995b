"""Language data for matching: month names, number scales, typical text lengths.

Read from the JSON files beside this module, once per process.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from services.pipeline.text.fold import fold_digits


@dataclass(frozen=True)
class Lexicon:
    """Language data read from `services/pipeline/matching/`."""

    months: dict[str, int]
    scales: dict[str, int]
    date_fillers: frozenset[str]
    length_factor: dict[str, float]


@functools.cache
def load_lexicon() -> Lexicon:
    """Read the packaged month, number and language data once per process."""
    folder = resources.files("services.pipeline.matching")
    months_raw = json.loads((folder / "months.json").read_text(encoding="utf-8"))
    numbers_raw = json.loads((folder / "numbers.json").read_text(encoding="utf-8"))
    languages_raw = json.loads((folder / "languages.json").read_text(encoding="utf-8"))
    months = {
        fold_digits(form): int(month)
        for month, forms in months_raw.items()
        if not month.startswith("_")
        for form in forms
    }
    scales = {
        fold_digits(word): int(value)
        for value, words in numbers_raw["scales"].items()
        for word in words
    }
    return Lexicon(
        months=months,
        scales=scales,
        date_fillers=frozenset(fold_digits(w) for w in numbers_raw["date_fillers"]),
        length_factor={k: float(v) for k, v in languages_raw["length_factor"].items()},
    )


def length_factor(language: str, lexicon: Lexicon | None = None) -> float:
    """Return the typical length of the language's text relative to English."""
    lexicon = lexicon or load_lexicon()
    return lexicon.length_factor.get(language.split("-", maxsplit=1)[0].lower(), 1.0)
