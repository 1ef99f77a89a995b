"""Dates and numbers of a text, in forms that survive translation.

Dates as ISO month-day (`d:MM-DD`) and year-month (`m:YYYY-MM`); numbers in
canonical form (`n:<value>`), with scale words applied (1,5 млн, 25亿,
3 करोड़).
"""

from __future__ import annotations

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
_TOKEN = re.compile(r"\d+|[^\W\d_]+")
_UNSPACED_SCALE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")


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
    if _ARABIC.match(word) and len(word) > 3 and word[0] in "وبلف" and word[1:] in lexicon.months:
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
        if not scale and _UNSPACED_SCALE.match(text, match.end()):
            # Chinese, Japanese and Korean write the scale on the digits: 25亿.
            rest = text[match.end() : match.end() + 2]
            scale = lexicon.scales.get(rest) or lexicon.scales.get(rest[:1]) or 0
        for value in values:
            if value >= 10 or value != value.to_integral_value():
                evidence.add("n:" + _canonical(value), at(match.start()))
        if scale and len(values) == 1:
            evidence.add("n:" + _canonical(values[-1] * scale), at(match.start()))


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
