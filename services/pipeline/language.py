"""Detect the language of a text.

A naive Bayes classifier over byte n-grams (py3langid, its model shipped in the
package) restricted to the news languages listed in ``rules/languages.toml``,
with two guards around it: a text with too few letters, or whose paragraphs
or scripts disagree, is undetermined ("und") unless the caller's hint is one of
the languages it plausibly is.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

UNDETERMINED = "und"
SETTINGS_FILE = Path(__file__).with_name("rules") / "languages.toml"


@dataclass(frozen=True)
class LanguageGuess:
    code: str
    confidence: float


@dataclass(frozen=True)
class Detector:
    """The classifier and the thresholds of language detection."""

    classifier: Any
    candidates: frozenset[str]
    min_letters: int
    max_chars: int
    min_confidence: float
    min_agreement: float


@functools.lru_cache(maxsize=4)
def load_detector(settings: Path = SETTINGS_FILE) -> Detector:
    """Load the classifier, restricted to the candidate languages of the settings file.

    Cached: the model, slow to load, is read once per process and settings file.
    """
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    with settings.open("rb") as file:
        table = tomllib.load(file)
    candidates = [str(code) for code in table["candidates"]]
    classifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    classifier.set_languages(candidates)
    return Detector(
        classifier=classifier,
        candidates=frozenset(candidates),
        min_letters=int(table.get("min_letters", 20)),
        max_chars=int(table.get("max_chars", 1000)),
        min_confidence=float(table.get("min_confidence", 0.6)),
        min_agreement=float(table.get("min_agreement", 0.7)),
    )


def detect_language(
    text: str, hint: str | None = None, detector: Detector | None = None
) -> LanguageGuess:
    """Return the ISO 639-1 code of the text's language, or "und", with a probability.

    Reads the first max_chars characters of the text. Fewer than min_letters
    letters: "und". A clear guess (one script, paragraphs agreeing, probability
    at least min_confidence) wins over the hint; otherwise the hint ("kk",
    "kk-KZ") is returned when it is among the plausible languages, and "und"
    when it is not. The confidence is the classifier's probability of the
    code (for a hint, the larger of that and the share of the text it holds),
    0.0 for "und". Pure: the same text and hint give the same guess.
    """
    detector = detector or load_detector()
    sample = text[: detector.max_chars]
    letters = _LETTER.findall(sample)
    if len(letters) < detector.min_letters:
        return LanguageGuess(UNDETERMINED, 0.0)
    ranking: list[tuple[str, float]] = detector.classifier.rank(sample)
    best, probability = ranking[0]
    script = _main_script(letters, detector.min_agreement)
    if script is not None:
        votes = _votes(text.split("\n"), detector)
    else:
        votes = _votes([pattern.sub(" ", sample) for pattern in _SCRIPT_ONLY.values()], detector)
    total = sum(votes.values())
    agrees = votes[best] >= detector.min_agreement * total
    if script is not None and agrees and probability >= detector.min_confidence:
        return LanguageGuess(best, round(probability, 4))
    code = _hint_code(hint)
    if code in detector.candidates:
        share = max(dict(ranking[:3]).get(code, 0.0), votes[code] / (total or 1))
        if share >= 1 - detector.min_agreement:
            return LanguageGuess(code, round(share, 4))
    return LanguageGuess(UNDETERMINED, 0.0)


_LETTER = re.compile(r"[^\W\d_]")
_SCRIPT_RANGES = {
    "latin": "A-Za-z\u00c0-\u024f\u1e00-\u1eff",
    "cyrillic": "\u0400-\u052f",
    "arabic": "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff",
    "greek": "\u0370-\u03ff\u1f00-\u1fff",
    "hebrew": "\u0590-\u05ff",
    "caucasian": "\u0530-\u058f\u10a0-\u10ff",
    "indic": "\u0900-\u0dff",
    "thai_lao": "\u0e00-\u0eff",
    "cjk": "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u1100-\u11ff",
}
_SCRIPTS = {name: re.compile(f"[{chars}]") for name, chars in _SCRIPT_RANGES.items()}
# Letters of every other script, to read one script of a mixed text on its own.
_SCRIPT_ONLY = {
    **{name: re.compile(f"(?![{chars}])[^\\W\\d_]") for name, chars in _SCRIPT_RANGES.items()},
    "other": re.compile(f"[{''.join(_SCRIPT_RANGES.values())}]"),
}
_VOTE_SEGMENTS = 4
_VOTE_CHARS = 300


def _main_script(letters: Sequence[str], share: float) -> str | None:
    """Return the script of at least this share of the letters, or None when they mix."""
    joined = "".join(letters)
    if joined.isascii():
        return "latin"
    for name, pattern in _SCRIPTS.items():
        if len(pattern.findall(joined)) >= share * len(joined):
            return name
    unlisted = _SCRIPT_ONLY["other"].sub("", joined)
    return "other" if len(unlisted) >= share * len(joined) else None


def _votes(segments: Sequence[str], detector: Detector) -> Counter[str]:
    """Count the letters of the first segments long enough to judge, under their language.

    An article with one quoted paragraph in another language still agrees with
    itself; one half English and half French, or half Arabic and half Russian,
    does not. Each segment is read up to _VOTE_CHARS characters, which is
    plenty for the classifier; a single segment gives no votes.
    """
    judged: list[tuple[str, int]] = []
    for segment in segments:
        weight = len(_LETTER.findall(segment))
        if weight >= 3 * detector.min_letters:
            judged.append((segment[:_VOTE_CHARS], weight))
            if len(judged) == _VOTE_SEGMENTS:
                break
    votes: Counter[str] = Counter()
    if len(judged) < 2:
        return votes
    for segment, weight in judged:
        code, _ = detector.classifier.classify(segment)
        votes[code] += weight
    return votes


def _hint_code(hint: str | None) -> str | None:
    if not hint:
        return None
    return hint.strip().replace("_", "-").split("-")[0].lower() or None
