"""Tell a page that carries an article from one that does not.

A crawler that is refused gets a page all the same: a cookie consent wall,
a sign-up or newsletter prompt, a paywall stub, an ad-blocker wall, an IP
block or a robot check. Such a page is stored and processed like any other,
but it is no article: it must join no story, and identical walls of one
site must not form one.

The walls are recognized by phrases, kept as data in ``rules/walls/`` (one
file a language) and compared in their matching form. The text is cut into
sentences; a sentence holding a wall phrase is wall, the others of a few
words are article prose. A text with a wall phrase and little prose, or
with wall sentences a good share of it, is no article; so is a text that normalization left
as nothing but chrome lines with hardly any prose among them. A long
article with one newsletter prompt keeps its prose and stays an article.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.pipeline.normalize import Normalized, is_chrome
from services.pipeline.normalizing.rules import Rules, load_rules
from services.pipeline.text.fold import matching_form

WALLS_DIR = Path(__file__).with_name("rules") / "walls"

NO_ARTICLE = "no_article"
# Reasons, by kind of wall (the lists of the walls files), and for a text
# with too little prose left after its chrome.
REASONS = {
    "consent": "consent_wall",
    "signup": "signup_prompt",
    "paywall": "paywall",
    "adblock": "adblock_wall",
    "blocked": "access_blocked",
}
TOO_LITTLE_TEXT = "too_little_text"

_SENTENCE_BREAK = re.compile(r"(?<=[.!?…؟。])\s+|\n+|\s+\|\s+")
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class Quality:
    """Whether a document carries an article.

    `value` is None for an article and `no_article` for a page without one;
    `reason` then says why (a value of `REASONS` or `too_little_text`).
    `phrases` are the wall phrases found, at most five.
    """

    value: str | None = None
    reason: str | None = None
    prose_chars: int = 0
    wall_chars: int = 0
    phrases: tuple[str, ...] = ()

    @property
    def is_article(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class WallRules:
    """The wall phrases by kind, compiled, and the limits of `assess_quality`."""

    kinds: Mapping[str, re.Pattern[str]]
    any_kind: re.Pattern[str]
    wall_prose: int
    wall_share: float
    wall_dominant_prose: int
    chrome_prose_words: int
    sentence_words: int

    @classmethod
    def from_tables(cls, tables: Mapping[str, Any]) -> WallRules:
        """Compile rules from merged TOML tables (the shape of the walls files). Pure."""
        limits = tables.get("limits", {})
        kinds = tables.get("kinds", {})
        unknown = set(kinds) - set(REASONS)
        if unknown:
            raise ValueError(f"unknown kinds of wall: {sorted(unknown)}")
        return cls(
            kinds={kind: _pattern(kinds.get(kind, [])) for kind in REASONS},
            any_kind=_pattern([phrase for kind in REASONS for phrase in kinds.get(kind, [])]),
            wall_prose=int(limits.get("wall_prose", 300)),
            wall_share=float(limits.get("wall_share", 0.35)),
            wall_dominant_prose=int(limits.get("wall_dominant_prose", 700)),
            chrome_prose_words=int(limits.get("chrome_prose_words", 12)),
            sentence_words=int(limits.get("sentence_words", 4)),
        )


@functools.lru_cache(maxsize=4)
def load_wall_rules(directory: Path = WALLS_DIR) -> WallRules:
    """Read and compile every ``*.toml`` file of the walls folder, merged in name order.

    Lists of one kind concatenate; cached: the files are read once per folder.
    """
    tables: dict[str, Any] = {"limits": {}, "kinds": {}}
    for path in sorted(directory.glob("*.toml")):
        with path.open("rb") as file:
            try:
                table = tomllib.load(file)
            except tomllib.TOMLDecodeError as error:
                raise ValueError(f"{path}: {error}") from error
        tables["limits"].update(table.get("limits", {}))
        for kind, phrases in table.get("kinds", {}).items():
            tables["kinds"].setdefault(kind, []).extend(phrases)
    return WallRules.from_tables(tables)


def assess_quality(
    normalized: Normalized, rules: WallRules | None = None, chrome: Rules | None = None
) -> Quality:
    """Return whether the normalized document carries an article, and if not, why.

    Pure: the same document and rules give the same answer. Every language's
    phrases apply to every document: a German site shows its consent wall in
    English as often as in German. A text with no wall phrase, from which
    normalization dropped no chrome, is an article however short.
    """
    rules = rules or load_wall_rules()
    title = matching_form(normalized.title) if normalized.title else ""
    walled = _find(rules.any_kind, normalized.matching_text) is not None or (
        bool(title) and _find(rules.any_kind, title) is not None
    )
    if not walled and not normalized.dropped_lines:
        return Quality()
    chrome = chrome or load_rules()
    wall_chars = prose_chars = prose_words = 0
    found: dict[str, int] = {}
    phrases: dict[str, None] = {}
    # (matching form, whether it can be prose): the title is not, nor are
    # chrome lines, which survive normalization only when every line is one.
    keys = [(title, False)] if title else []
    keys += [(matching_form(p), not is_chrome(p, chrome)) for p in normalized.paragraphs]
    for key, prose in keys:
        for sentence in _SENTENCE_BREAK.split(key):
            kinds = _wall_kinds(sentence, rules, phrases) if walled else []
            if kinds:
                wall_chars += len(sentence)
                for kind in kinds:
                    found[kind] = found.get(kind, 0) + len(sentence)
                continue
            words = len(_WORD.findall(sentence))
            if prose and words >= rules.sentence_words:
                prose_chars += len(sentence)
                prose_words += words
    shown = tuple(list(phrases)[:5])
    if found and (
        prose_chars < rules.wall_prose
        or (
            wall_chars >= rules.wall_share * (wall_chars + prose_chars)
            and prose_chars < rules.wall_dominant_prose
        )
    ):
        kind = max(found, key=lambda k: (found[k], k))
        return Quality(NO_ARTICLE, REASONS[kind], prose_chars, wall_chars, shown)
    if not found and prose_words < rules.chrome_prose_words:
        return Quality(NO_ARTICLE, TOO_LITTLE_TEXT, prose_chars, wall_chars)
    return Quality(None, None, prose_chars, wall_chars, shown)


def _wall_kinds(sentence: str, rules: WallRules, phrases: dict[str, None]) -> list[str]:
    kinds = []
    for kind, pattern in rules.kinds.items():
        phrase = _find(pattern, sentence)
        if phrase is not None:
            kinds.append(kind)
            phrases.setdefault(phrase, None)
    return kinds


def _find(pattern: re.Pattern[str], text: str) -> str | None:
    """Return the first phrase of the pattern in the text that starts a word there."""
    for match in pattern.finditer(text):
        start = match.start()
        if start == 0 or not (text[start - 1].isalnum() and match.group()[0].isalnum()):
            return match.group()
    return None


def _pattern(phrases: Sequence[str]) -> re.Pattern[str]:
    """Compile the phrases as one trie-shaped expression.

    A plain alternation of some hundred phrases costs some 15 ms per 1,000
    characters; as a trie the engine tries only the branches of the next
    character. A phrase ending in a letter or digit must end a word; where
    one begins is checked by `_find`.
    """
    trie: dict[str, Any] = {}
    for phrase in {matching_form(p).strip() for p in phrases} - {""}:
        node = trie
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}
    return re.compile(_expression(trie, "") or "(?!)")


def _expression(node: dict[str, Any], last: str) -> str:
    branches = [
        re.escape(char) + _expression(child, char) for char, child in sorted(node.items()) if char
    ]
    if "" in node:
        branches.append(r"(?!\w)" if re.match(r"\w", last) else "")
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"
