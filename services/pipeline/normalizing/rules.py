"""Normalization rules: the TOML tables of ``services/pipeline/rules/``, compiled."""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.pipeline.text.fold import matching_form

RULES_DIR = Path(__file__).parents[1] / "rules"
LABEL_KINDS = ("tags", "source", "credit", "byline", "published", "updated")
# What a line may carry around its words: punctuation, bullets, separators.
EDGE = " .,:;!?…-–—|•·»«›‹>*#/\\"


@dataclass(frozen=True)
class Rules:
    """Normalization rules compiled from the tables of the ``rules/`` files."""

    short_line: int
    block_line: int
    title_length: int
    repeat_share: float
    repeat_min_trigrams: int
    attribution_paragraphs: int
    chrome_lines: frozenset[str]
    chrome_prefix: re.Pattern[str]
    chrome_contains: re.Pattern[str]
    block_markers: frozenset[str]
    labels: Mapping[str, re.Pattern[str]]
    attribution_after: re.Pattern[str]
    attribution_before: re.Pattern[str]
    dates: tuple[re.Pattern[str], ...]
    months: Mapping[str, int]
    timezones: Mapping[str, int]
    date_words: re.Pattern[str]
    date_meta: tuple[str, ...]
    html_title: tuple[str, ...]
    html_author: tuple[str, ...]
    html_site: tuple[str, ...]

    @classmethod
    def from_tables(cls, tables: Mapping[str, Any]) -> Rules:
        """Compile rules from merged TOML tables (the shape of the ``rules/`` files).

        Pure: the same tables always give equal rules.
        """
        limits = tables.get("limits", {})
        chrome = tables.get("boilerplate", {})
        labels = tables.get("labels", {})
        attribution = tables.get("attribution", {})
        dates = tables.get("dates", {})
        months = {_phrase(name): int(number) for name, number in tables.get("months", {}).items()}
        zones = {
            _phrase(name): int(minutes) for name, minutes in tables.get("timezones", {}).items()
        }
        date_words = [*dates.get("weekdays", []), *dates.get("filler", [])]
        return cls(
            short_line=int(limits.get("short_line", 160)),
            block_line=int(limits.get("block_line", 140)),
            title_length=int(limits.get("title", 300)),
            repeat_share=float(limits.get("repeat_share", 0.8)),
            repeat_min_trigrams=int(limits.get("repeat_min_trigrams", 6)),
            attribution_paragraphs=int(limits.get("attribution_paragraphs", 3)),
            chrome_lines=frozenset(
                _phrase(p) for p in [*chrome.get("lines", []), *chrome.get("blocks", [])]
            ),
            chrome_prefix=_alternation(chrome.get("prefixes", []), "^(?:{})"),
            chrome_contains=_alternation(chrome.get("contains", []), "(?:{})"),
            block_markers=frozenset(_phrase(p) for p in chrome.get("blocks", [])),
            labels={kind: _label_pattern(labels.get(kind, [])) for kind in LABEL_KINDS},
            attribution_after=re.compile(
                rf",\s+(?P<name>{_NAME})\s+(?i:{_verbs(attribution.get('after_name', []))})(?!\w)"
            ),
            attribution_before=re.compile(
                rf",\s+(?i:{_verbs(attribution.get('before_name', []))})\s+(?P<name>{_NAME})"
            ),
            dates=tuple(_date_pattern(p, months, zones) for p in dates.get("patterns", [])),
            months=months,
            timezones=zones,
            date_words=_alternation(date_words, r"(?<!\w)(?:{})(?!\w)"),
            date_meta=_names(tables, "date_meta"),
            html_title=_names(tables, "title_meta"),
            html_author=_names(tables, "author_meta"),
            html_site=_names(tables, "site_meta"),
        )


@functools.lru_cache(maxsize=8)
def load_rules(directory: Path = RULES_DIR) -> Rules:
    """Read and compile every ``*.toml`` file in the rules folder.

    Files are merged in name order: lists concatenate, tables merge, so a new
    language or site is a new file. Cached: the files are read once per folder.
    """
    tables: dict[str, Any] = {}
    for path in sorted(directory.glob("*.toml")):
        with path.open("rb") as file:
            try:
                _merge(tables, tomllib.load(file))
            except tomllib.TOMLDecodeError as error:
                raise ValueError(f"{path}: {error}") from error
    return Rules.from_tables(tables)


# Up to four words; a dot only inside one ("El.kz"), never a sentence's end.
_WORD_OF_NAME = r"[^\W\d_][\w&'-]*(?:\.[\w&'-]+)*"
_NAME = rf"{_WORD_OF_NAME}(?: {_WORD_OF_NAME}){{0,3}}"
_DAY = r"(?P<day>3[01]|[12][0-9]|0?[1-9])(?:st|nd|rd|th|er|e|-?го|-?е)?\.?"
_MM = r"(?P<mm>1[0-2]|0?[1-9])"
_YEAR = r"(?P<year>(?:19|20)[0-9]{2})"
A_YEAR = re.compile(r"(?:19|20)[0-9]{2}")
_LEAD_TIME = r"(?:(?P<lead_hour>[01]?[0-9]|2[0-3]):(?P<lead_minute>[0-5][0-9])[\s,|–—-]*)?"
_OFFSET = r"[+-](?:[01]?[0-9]|2[0-3])(?::?[0-5][0-9])?(?![0-9])"
# A UTC offset counts right after the time ("14:20:00+03:00") or a zone name
# ("GMT+3"), never after a bare date, where "- 15" is something else.
_TIME = (
    r"(?:[\s,|–—-]*(?:t|[^\W\d_]{1,8}\.?\s+)?"
    r"(?P<hour>[01]?[0-9]|2[0-3])[:h](?P<minute>[0-5][0-9])"
    r"(?::(?P<second>[0-5][0-9])(?:\.[0-9]+)?)?"
    rf"(?:\s?(?P<offset>{_OFFSET}))?"
    r"(?:\s*(?P<ampm>am|pm|a\.m\.|p\.m\.|ص|م)(?!\w))?)?"
)


def _names(tables: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(str(name).casefold() for name in tables.get("html", {}).get(key, []))


def _phrase(text: str) -> str:
    return matching_form(text).strip(EDGE)


def _escaped(phrases: Sequence[str]) -> list[str]:
    keys = {matching_form(p).strip() for p in phrases} - {""}
    return [
        re.escape(k) + (r"(?!\w)" if re.match(r"\w", k[-1]) else "")
        for k in sorted(keys, key=len, reverse=True)
    ]


def _alternation(phrases: Sequence[str], template: str) -> re.Pattern[str]:
    parts = _escaped(phrases)
    return re.compile(template.format("|".join(parts)) if parts else "(?!)")


def _verbs(phrases: Sequence[str]) -> str:
    # Matched in the text as written (names keep their case), so not folded.
    verbs = sorted({p.strip() for p in phrases} - {""}, key=len, reverse=True)
    return "|".join(re.escape(v) for v in verbs) or "(?!)"


def _label_pattern(phrases: Sequence[str]) -> re.Pattern[str]:
    parts = []
    for phrase in sorted(set(phrases), key=len, reverse=True):
        core = phrase.rstrip().rstrip(":-").rstrip()
        needs_colon = core != phrase.rstrip()
        key = re.escape(matching_form(core))
        if not key:
            continue
        colon = r"\s*(?:[:：]|[-–—](?=\s))"
        parts.append(key + (colon if needs_colon else rf"(?:{colon}|(?=\s)|$)"))
    return re.compile(f"^(?:{'|'.join(parts)})" if parts else "(?!)")


def _date_pattern(
    shape: str, months: Mapping[str, int], zones: Mapping[str, int]
) -> re.Pattern[str]:
    month = "|".join(re.escape(m) for m in sorted(months, key=len, reverse=True)) or "(?!)"
    zone = "|".join(re.escape(z) for z in sorted(zones, key=len, reverse=True)) or "(?!)"
    body = (
        shape.replace("{day}", _DAY)
        .replace("{month}", rf"(?P<month>{month})(?!\w)")
        .replace("{mm}", _MM)
        .replace("{year}", _YEAR)
    )
    return re.compile(
        rf"(?<![\w]){_LEAD_TIME}{body}{_TIME}"
        rf"(?:\s*\(?(?P<zone>{zone})(?!\w)(?:\s?(?P<zone_offset>{_OFFSET}))?\)?)?(?![0-9])"
    )


def _merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif isinstance(value, list) and isinstance(into.get(key), list):
            into[key] = [*into[key], *value]
        elif isinstance(value, dict):
            into[key] = {}
            _merge(into[key], value)
        else:
            into[key] = value
