"""Run the per-document stages in order and time each one."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from services.pipeline.fingerprint import Fingerprint, fingerprint
from services.pipeline.language import LanguageGuess, detect_language
from services.pipeline.normalize import Normalized, RawDocument, normalize
from services.pipeline.quality import Quality, assess_quality
from services.pipeline.tag import Tag, tag

STAGES = ("normalize", "language", "tag", "fingerprint")


@dataclass(frozen=True)
class Analysis:
    normalized: Normalized
    language: LanguageGuess
    tags: list[Tag]
    fingerprint: Fingerprint
    seconds: dict[str, float] = field(default_factory=dict)
    quality: Quality = field(default_factory=Quality)


def analyze(raw: RawDocument, clock: Callable[[], float] = time.perf_counter) -> Analysis:
    """Normalize, detect the language, tag and fingerprint one document.

    Pure apart from the clock; `seconds` holds each stage's duration. Whether
    the page carries an article at all is part of normalization.
    """
    seconds: dict[str, float] = {}
    started = clock()
    normalized = normalize(raw)
    quality = assess_quality(normalized)
    seconds["normalize"], started = clock() - started, clock()
    language = detect_language(normalized.text, raw.language)
    seconds["language"], started = clock() - started, clock()
    tags = tag(normalized, language.code)
    seconds["tag"], started = clock() - started, clock()
    print_ = fingerprint(normalized, language.code, tags)
    seconds["fingerprint"] = clock() - started
    return Analysis(normalized, language, tags, print_, seconds, quality)


def warm() -> None:
    """Load the rules, the language model and the gazetteers now, not on the first document.

    Each is cached per process and slow to load; loaded before a prefork
    pool starts, the pool's processes share them. Then everything loaded so
    far is moved out of the cyclic garbage collector's reach: it lives as
    long as the process, and every full collection walked it again, several
    times per 1,000 documents (figures: docs/performance.md).
    """
    analyze(RawDocument(content="Warm-up. The lexicons load on first use.\n\nA second line."))
    gc.freeze()
