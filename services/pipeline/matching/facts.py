"""Dates and numbers of a text, in forms that survive translation.

Dates as ISO month-day (`d:MM-DD`) and year-month (`m:YYYY-MM`); numbers in
canonical form (`n:<value>`), with scale words applied (1,5 млн, 25亿,
3 करोड़).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from services.pipeline.matching.lexicon import Lexicon

if TYPE_CHECKING:
    from services.pipeline.matching.evidence import Evidence

Position = Callable[[int], float]
_DAYS = (1, 31)
_YEARS = (1800, 2200)

_TIME = re.compile(r"\b\d{1,2}[:h]\d{2}\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DOTTED_DATE = re.compile(r"\b(\d{1,2})([./])(\d{1,2})\2(\d{4})\b")
# The year is optional: "11月6日", "10월 6일" name a day of the current year.
_CJK_DATE = re.compile(r"(?:(\d{4})\s*[年년]\s*)?(\d{1,2})\s*[月월](?:\s*(\d{1,2})\s*[日일])?")
_NUMBER_SPAN = re.compile(r"\d+(?:[,.'\u00a0\u202f\u2009 ]\d+)*")
# A word keeps its combining vowel signs and points (Devanagari, Thai,
# Hebrew, Arabic), which are no letters to the regular expression.
_MARKS = "\u0300-\u036f\u0591-\u05c7\u064b-\u065f\u0900-\u0dff\u0e31-\u0e4e"
_TOKEN = re.compile(rf"\d+|[^\W\d_](?:[^\W\d_]|[{_MARKS}])*")
_UNSPACED_SCALE = re.compile(r"[\u0e00-\u0e7f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_PROCLITICS = frozenset("وبلف" + "בלהומ")


def extract_facts(text: str, lexicon: Lexicon, evidence: Evidence, at: Position) -> None:
    """Add the dates and numbers of one folded paragraph to the evidence.

    `at` turns a character offset in the paragraph into a relative position
    in the document. Times of day (12:30) are neither dates nor numbers.
    """
    text = _TIME.sub(lambda m: " " * len(m.group()), text)
    text = _extract_numeric_dates(text, evidence, at)
    consumed = _extract_month_dates(text, lexicon, evidence, at)
    _extract_numbers(text, consumed, lexicon, evidence, at)


def _extract_numeric_dates(text: str, evidence: Evidence, at: Position) -> str:
    found: list[tuple[int, int, int, int]] = []
    for match in _ISO_DATE.finditer(text):
        year, month, day = (int(g) for g in match.groups())
        found.append((match.start(), year, month, day))
    for match in _DOTTED_DATE.finditer(text):
        first, sep, second, year_text = match.groups()
        day, month = int(first), int(second)
        if sep == "/" and month > 12 >= day:
            day, month = month, day
        found.append((match.start(), int(year_text), month, day))
    for match in _CJK_DATE.finditer(text):
        if not match.group(1) and not match.group(3):
            continue  # a month alone ("11月") says nothing
        year = int(match.group(1)) if match.group(1) else 0
        day = int(match.group(3)) if match.group(3) else 0
        found.append((match.start(), year, int(match.group(2)), day))
    for start, year, month, day in found:
        if not (1 <= month <= 12 and (year == 0 or 1800 <= year <= 2200) and 0 <= day <= 31):
            continue
        if day:
            evidence.add(f"d:{month:02d}-{day:02d}", at(start))
        if year:
            evidence.add(f"m:{year}-{month:02d}", at(start))
            evidence.add(f"n:{year}", at(start))
    for pattern in (_ISO_DATE, _DOTTED_DATE, _CJK_DATE):
        text = pattern.sub(lambda m: " " * len(m.group()), text)
    return text


def _month_of(tokens: list[re.Match[str]], i: int, lexicon: Lexicon) -> tuple[int, int]:
    """Return (month, tokens used) for the month named at token i, or (0, 0)."""
    word = tokens[i].group()
    if word.isdigit():
        return 0, 0
    if i + 1 < len(tokens):
        pair = f"{word} {tokens[i + 1].group()}"
        if pair in lexicon.months:
            return lexicon.months[pair], 2
    if word in lexicon.months:
        return lexicon.months[word], 1
    for cut in (1, 2, 3):
        stem = word[:-cut]
        if len(stem) >= 4 and stem in lexicon.months:
            return lexicon.months[stem], 1
    # A one-letter proclitic ('in', 'and', 'to') on an Arabic or Hebrew month.
    if len(word) > 3 and word[0] in _PROCLITICS and word[1:] in lexicon.months:
        return lexicon.months[word[1:]], 1
    return 0, 0


def _extract_month_dates(text: str, lexicon: Lexicon, evidence: Evidence, at: Position) -> set[int]:
    tokens = list(_TOKEN.finditer(text))
    consumed: set[int] = set()
    i = 0
    while i < len(tokens):
        month, used = _month_of(tokens, i, lexicon)
        if not month:
            i += 1
            continue
        day_index = _near_number(tokens, i - 1, -1, _DAYS, lexicon)
        if day_index is None:
            day_index = _near_number(tokens, i + used, 1, _DAYS, lexicon)
        year_index = _near_number(tokens, i + used, 1, _YEARS, lexicon, skip=day_index)
        if year_index is None and day_index is not None and day_index < i:
            year_index = _near_number(tokens, day_index - 1, -1, _YEARS, lexicon)
        if day_index is not None:
            day = int(tokens[day_index].group())
            evidence.add(f"d:{month:02d}-{day:02d}", at(tokens[i].start()))
            consumed.add(tokens[day_index].start())
        if year_index is not None:
            evidence.add(f"m:{tokens[year_index].group()}-{month:02d}", at(tokens[i].start()))
        i += used
    return consumed


def _near_number(
    tokens: list[re.Match[str]],
    start: int,
    step: int,
    bounds: tuple[int, int],
    lexicon: Lexicon,
    skip: int | None = None,
) -> int | None:
    """Return the index of a number within bounds (inclusive) near start, past fillers."""
    low, high = bounds
    index = start
    for _ in range(4):
        if not 0 <= index < len(tokens):
            return None
        word = tokens[index].group()
        if index == skip:
            index += step
            continue
        if word.isdigit():
            return index if len(word) <= 4 and low <= int(word) <= high else None
        if word not in lexicon.date_fillers:
            return None
        index += step
    return None


def _extract_numbers(
    text: str, consumed: set[int], lexicon: Lexicon, evidence: Evidence, at: Position
) -> None:
    text = _extract_compounds(text, lexicon, evidence, at)
    for match in _NUMBER_SPAN.finditer(text):
        if match.start() in consumed:
            continue
        values = _parse_number_span(match.group())
        if not values:
            continue
        after = text[match.end() : match.end() + 24].split()
        scale = 0
        if after:
            two = " ".join(after[:2]).rstrip(".,;:")
            one = after[0].rstrip(".,;:")
            scale = lexicon.scales.get(two) or lexicon.scales.get(one) or 0
        if not scale:
            # Chinese, Japanese and Korean write the scale on the digits (25亿),
            # Thai on the next word (250 ล้านดอลลาร์).
            scale = _unspaced_scale(text[match.end() : match.end() + 8].lstrip(), lexicon)
        for value in values:
            if value >= 10 or value != value.to_integral_value():
                evidence.add("n:" + _canonical(value), at(match.start()))
        if scale and len(values) == 1:
            evidence.add("n:" + _canonical(values[-1] * scale), at(match.start()))


def _unspaced_scale(rest: str, lexicon: Lexicon) -> int:
    if not _UNSPACED_SCALE.match(rest):
        return 0
    for word in _unspaced_words(frozenset(lexicon.scales)):
        if rest.startswith(word):
            return lexicon.scales[word]
    return 0


@functools.cache
def _unspaced_words(scales: frozenset[str]) -> tuple[str, ...]:
    """Return the scale words of scripts without spaces, longest first."""
    return tuple(sorted((w for w in scales if _UNSPACED_SCALE.match(w)), key=len, reverse=True))


def _compound_pattern(lexicon: Lexicon) -> re.Pattern[str]:
    return _compile_compound(_unspaced_words(frozenset(lexicon.scales)))


@functools.cache
def _compile_compound(words: tuple[str, ...]) -> re.Pattern[str]:
    part = rf"\d+(?:\.\d+)?\s?(?:{'|'.join(map(re.escape, words))})"
    return re.compile(rf"(?:{part}\s?)+\d*")


_COMPOUND_PART = re.compile(r"(\d+(?:\.\d+)?)\s?([^\d\s]+)")


def _extract_compounds(text: str, lexicon: Lexicon, evidence: Evidence, at: Position) -> str:
    """Add the numbers written in CJK parts (2億5000万, 1만 2500, 2억 5천만); blank them out.

    A compound has falling scales and may end in a plain number below the
    last scale; a single part (2.5亿) is left to the plain reading.
    """
    found = []
    for match in _compound_pattern(lexicon).finditer(text):
        parts = _COMPOUND_PART.findall(match.group())
        tail = re.search(r"(\d+)$", match.group())
        scales = [lexicon.scales.get(word, 0) for _, word in parts]
        total = sum(
            (Decimal(n) * scale for (n, _), scale in zip(parts, scales, strict=True)), Decimal(0)
        )
        rest = int(tail.group(1)) if tail else 0
        if len(parts) + bool(rest) < 2 or 0 in scales or scales != sorted(scales, reverse=True):
            continue
        if rest >= scales[-1] or len(set(scales)) < len(scales):
            continue
        evidence.add("n:" + _canonical(total + rest), at(match.start()))
        found.append(match)
    for match in found:
        text = text[: match.start()] + " " * len(match.group()) + text[match.end() :]
    return text


def _parse_number_span(span: str) -> list[Decimal]:
    parts = re.split(r"([,.'\u00a0\u202f\u2009 ])", span)
    groups, seps = parts[0::2], parts[1::2]
    try:
        if not seps:
            return [Decimal(groups[0])]
        head_ok = 1 <= len(groups[0]) <= 3 and groups[0] != "0"
        if head_ok and len(set(seps)) == 1 and all(len(g) == 3 for g in groups[1:]):
            return [Decimal("".join(groups))]
        if (
            head_ok
            and len(seps) >= 2
            and len(set(seps[:-1])) == 1
            and seps[-1] in ".,"
            and seps[-1] != seps[0]
            and all(len(g) == 3 for g in groups[1:-1])
        ):
            return [Decimal("".join(groups[:-1]) + "." + groups[-1])]
        if len(seps) == 1 and seps[0] in ".,":
            return [Decimal(groups[0] + "." + groups[1])]
    except InvalidOperation:
        return []
    if " " in seps or "\u00a0" in seps:
        pieces = re.split(r"[ \u00a0]", span)
        return [v for piece in pieces for v in _parse_number_span(piece)]
    return [Decimal(g) for g in groups if g]


def _canonical(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")
