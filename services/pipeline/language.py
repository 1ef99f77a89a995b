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

    Cached: the model (~0.6 s to load) is read once per process and settings file.
    """
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

    with settings.open("rb") as file:
        table = tomllib.load(file)
    candidates = [str(code) for code in table["candidates"]]
    classifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    classifier.set_languages(candidates)
    return Detector(
        classifier=classifier,
        candidates=frozenset(candidates),
        min_letters=int(table.get("min_letters", 20)),
        max_chars=int(table.get("max_chars", 2000)),
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
    when it is not. The confidence is the probability of the returned code,
    0.0 for "und". Pure: the same text and hint give the same guess.
    """
    detector = detector or load_detector()
    sample = text[: detector.max_chars]
    letters = len(_LETTER.findall(sample))
    if letters < detector.min_letters:
        return LanguageGuess(UNDETERMINED, 0.0)
    ranking: list[tuple[str, float]] = detector.classifier.rank(sample)
    best, probability = ranking[0]
    scripts = Counter({name: len(pattern.findall(sample)) for name, pattern in _SCRIPTS.items()})
    scripts["other"] = letters - sum(scripts.values())
    one_script = max(scripts.values()) >= detector.min_agreement * letters
    if one_script:
        votes = _votes(sample.split("\n"), detector)
    else:
        votes = _votes([_SCRIPT_ONLY[name].sub(" ", sample) for name in scripts], detector)
    agreement = votes[best] / sum(votes.values()) if votes else 1.0
    if one_script and agreement >= detector.min_agreement:
        if probability >= detector.min_confidence:
            return LanguageGuess(best, round(probability, 4))
    code = _hint_code(hint)
    if code in detector.candidates:
        share = max(dict(ranking[:3]).get(code, 0.0), votes[code] / (sum(votes.values()) or 1))
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
_SCRIPTS = {name: re.compile(f"(?=[^\\W\\d_])[{chars}]") for name, chars in _SCRIPT_RANGES.items()}
# Letters of every other script, to read one script of a mixed text on its own.
_SCRIPT_ONLY = {
    **{name: re.compile(f"(?![{chars}])[^\\W\\d_]") for name, chars in _SCRIPT_RANGES.items()},
    "other": re.compile(f"[{''.join(_SCRIPT_RANGES.values())}]"),
}


def _votes(segments: Sequence[str], detector: Detector) -> Counter[str]:
    """Count the letters of each segment long enough to judge under its language.

    An article with one quoted paragraph in another language still agrees with
    itself; one half English and half French, or half Arabic and half Russian,
    does not. A single segment gives no votes.
    """
    votes: Counter[str] = Counter()
    judged = [(s, len(_LETTER.findall(s))) for s in segments]
    judged = [(s, weight) for s, weight in judged if weight >= 3 * detector.min_letters]
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
