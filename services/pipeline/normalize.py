"""Turn a raw document into clean text and its metadata.

The stage repairs the text (mojibake, Unicode form, invisible characters,
whitespace, quotes), extracts the main content of HTML pages with trafilatura,
removes site chrome and repeated paragraphs, and finds the title, byline,
publication time and source. What counts as chrome, the labels, month names
and date shapes are data: the TOML files in ``rules/``, read once by
load_rules(). Nothing here does I/O but that loader.

Where each part lives: `text/repair.py` (text repair), `text/fold.py`
(`matching_form`), `normalizing/rules.py` (the rules and their compilation),
`normalizing/dates.py` (dates in a line), `normalizing/html.py` (reading an
HTML page). This module cleans the paragraphs and finds the metadata.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.pipeline.normalizing.dates import find_date, in_utc
from services.pipeline.normalizing.html import Page, read_html
from services.pipeline.normalizing.rules import EDGE, LABEL_KINDS, RULES_DIR, Rules, load_rules
from services.pipeline.text.fold import matching_form
from services.pipeline.text.repair import repair

__all__ = [
    "RULES_DIR",
    "Normalized",
    "RawDocument",
    "Rules",
    "is_chrome",
    "load_rules",
    "matching_form",
    "normalize",
]


@dataclass(frozen=True)
class RawDocument:
    """A document as it arrived: text or a whole HTML page, and what the sender knows."""

    content: str
    content_type: str = "text/plain"
    title: str | None = None
    url: str | None = None
    source: str | None = None
    language: str | None = None
    published_at: datetime | None = None
    byline: str | None = None


@dataclass(frozen=True)
class Normalized:
    """The clean body (paragraphs joined by a blank line) and the document's metadata.

    published_at is aware and in UTC when its zone was known, naive when not
    (a page saying "24.10.2024 18:53" gives no zone). matching_text is for
    deduplication and tagging only, never for display.
    """

    text: str
    title: str | None
    byline: str | None
    published_at: datetime | None
    source: str | None
    matching_text: str
    # Lines dropped as chrome or metadata; not part of the normal form (a
    # second pass finds none), so equality ignores it.
    dropped_lines: int = field(default=0, compare=False)

    @property
    def paragraphs(self) -> list[str]:
        return self.text.split("\n\n") if self.text else []


def normalize(raw: RawDocument, rules: Rules | None = None) -> Normalized:
    """Clean the text; extract title, byline, publication time and source.

    Each field comes from the raw document first, then the HTML metadata, then
    the text. published_at is converted to UTC when its zone is known and left
    naive when it is not. The text is never empty when the repaired input has
    a visible character (character references decoded, so "&#8203;" alone has
    none): when every line would go as chrome, the repaired lines are kept.

    Idempotent: for n = normalize(raw),
    normalize(RawDocument(n.text, title=n.title, byline=n.byline,
    published_at=n.published_at, source=n.source)) == n, whatever raw's
    content type; a plain-text n.text is its own normal form.
    Raises ValueError for content that is neither text nor UTF-8 bytes and
    for content types other than text/plain and text/html.
    """
    rules = rules if rules is not None else load_rules()
    content = _as_text(raw.content)
    page = read_html(content, rules) if _is_html(raw.content_type) else Page(content)
    paragraphs = _paragraphs(repair(page.text))
    chrome_free, facts = _strip_chrome(paragraphs, rules)
    keyed = _drop_repeats(chrome_free, rules)
    title, keyed = _take_title(_field(raw.title) or _field(page.title), keyed, rules)
    dropped_lines = len(paragraphs) - len(chrome_free)
    if not keyed:
        keyed = [(p, matching_form(p)) for p in dict.fromkeys(paragraphs)]
    body = [p for p, _ in keyed]
    text = "\n\n".join(body)
    return Normalized(
        text=text,
        title=title,
        byline=_field(raw.byline) or _field(page.byline) or _field(facts.byline),
        published_at=in_utc(raw.published_at) or page.published_at or facts.published_at,
        source=(
            _field(raw.source)
            or _field(page.source)
            or _field(facts.source)
            or _find_attribution(body[: rules.attribution_paragraphs], rules)
        ),
        # Equal to matching_form(text): the form works line by line.
        matching_text="\n\n".join(key for _, key in keyed),
        dropped_lines=dropped_lines,
    )


def _field(value: str | None) -> str | None:
    """Repair a one-line value (title, byline, a joined paragraph) to a fixed point."""
    if value is None:
        return None
    for _ in range(4):
        # Joining lines can put two halves of a mojibake sequence side by side.
        cleaned = " ".join(repair(value).split())
        if cleaned == value:
            break
        value = cleaned
    return value or None


def _as_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, (bytes, bytearray)):
        try:
            return bytes(content).decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"content is not valid UTF-8: {error}") from None
    raise ValueError(f"content must be text, not {type(content).__name__}")


def _is_html(content_type: str) -> bool:
    kind = (content_type or "text/plain").split(";")[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml"):
        return True
    if kind == "text/plain":
        return False
    raise ValueError(f"unsupported content_type {content_type!r}: use text/plain or text/html")


# Paragraphs ------------------------------------------------------------------------

_SENTENCE_END = ".!?…。؟۔"
_CLOSERS = "\"')]}»›"


def _paragraphs(text: str) -> list[str]:
    """Split repaired text into paragraphs; join lines of hard-wrapped ones."""
    paragraphs: list[str] = []
    for block in text.split("\n\n"):
        current = ""
        for line in block.split("\n"):
            if not line:
                continue
            if current and _continues(current, line):
                current = _field(f"{current} {line}") or ""
            else:
                if current:
                    paragraphs.append(current)
                current = line
        if current:
            paragraphs.append(current)
    return paragraphs


def _continues(previous: str, line: str) -> bool:
    # A wrapped paragraph: a long line cut mid-sentence, the next one lower-case.
    return len(previous) >= 40 and not _ends_sentence(previous) and line[0].islower()


def _ends_sentence(text: str) -> bool:
    stripped = text.rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _SENTENCE_END


# Chrome, bylines, dates ------------------------------------------------------------


@dataclass
class _Facts:
    byline: str | None = None
    source: str | None = None
    labelled: datetime | None = None
    dated: datetime | None = None
    credited: datetime | None = None

    @property
    def published_at(self) -> datetime | None:
        return self.labelled or self.dated or self.credited


def _strip_chrome(paragraphs: Sequence[str], rules: Rules) -> tuple[list[str], _Facts]:
    """Drop chrome and metadata lines; keep what they say in the facts.

    Every rule looks at one short line on its own (block markers also at the
    headline-shaped lines after them), so removing lines never makes another
    line match: stripping twice equals stripping once.
    """
    kept: list[str] = []
    facts = _Facts()
    in_block = False
    for text in paragraphs:
        if in_block and len(text) <= rules.block_line and not _ends_sentence(text):
            continue
        in_block = False
        if len(text) > rules.short_line:
            kept.append(text)
            continue
        key = matching_form(text)
        if key.strip(EDGE) in rules.block_markers:
            in_block = True
        elif not _is_metadata(text, key, rules, facts):
            kept.append(text)
    return kept, facts


def is_chrome(text: str, rules: Rules) -> bool:
    """Return whether normalization drops the line as chrome or metadata (on its own).

    Pure; a body line survives normalization only when every line was chrome.
    """
    if len(text) > rules.short_line:
        return False
    key = matching_form(text)
    return key.strip(EDGE) in rules.block_markers or _is_metadata(text, key, rules, _Facts())


def _is_metadata(text: str, key: str, rules: Rules, facts: _Facts) -> bool:
    if (
        key.strip(EDGE) in rules.chrome_lines
        or rules.chrome_prefix.search(key)
        or rules.chrome_contains.search(key)
    ):
        return True
    for kind in LABEL_KINDS:
        label = rules.labels[kind].match(key)
        if label is None:
            continue
        if kind == "tags":
            return True
        if kind == "source":
            facts.source = facts.source or _value_after(text, label.end()) or None
            return True
        if kind == "credit":
            facts.credited = facts.credited or find_date(key, rules)
            return True
        if kind == "byline":
            name = _person(_value_after(text, label.end()))
            if name is None:
                continue
            facts.byline = facts.byline or name
            return True
        # "Published 3 June 2024": the rest of the line must be the date alone.
        moment = find_date(key[label.end() :], rules, alone=True)
        if moment is not None:
            if kind == "published":
                facts.labelled = facts.labelled or moment
            return True
    moment = find_date(key, rules, alone=True)
    if moment is not None:
        facts.dated = facts.dated or moment
        return True
    return False


def _value_after(text: str, key_end: int) -> str:
    # The label was found in the matching form; find where it ends in the text.
    low, high = 0, len(text)
    while low < high:
        middle = (low + high) // 2
        if len(matching_form(text[:middle])) < key_end:
            low = middle + 1
        else:
            high = middle
    return text[low:].strip(" :：-–—|")


def _person(value: str) -> str | None:
    name = value.strip(EDGE)
    words = name.split()
    if not 1 <= len(words) <= 8 or len(name) > 80:
        return None
    if any(c.isdigit() or c in "!?؟()[]{}<>@#=+*/\\" for c in name):
        return None
    first = next((c for c in name if c.isalpha()), "")
    if not first or (first.lower() != first.upper() and not first.isupper()):
        return None
    return name


# Repeats and title -----------------------------------------------------------------

_WORD = re.compile(r"\w+")


def _drop_repeats(paragraphs: Sequence[str], rules: Rules) -> list[tuple[str, str]]:
    """Keep the first of equal paragraphs and drop near-repeats of a kept one.

    A near-repeat has at least repeat_share of its word trigrams in one earlier
    kept paragraph (a paragraph pasted twice with a tail edited). Only kept
    paragraphs are compared, so dropping twice equals dropping once. Returns
    the kept paragraphs with their matching forms.
    """
    kept: list[tuple[str, str]] = []
    keys: set[str] = set()
    # Which kept paragraphs hold each trigram: a paragraph is compared only
    # with those it shares trigrams with, not with every earlier one (which
    # is quadratic in the number of distinct paragraphs).
    holders: defaultdict[tuple[str, ...], list[int]] = defaultdict(list)
    for text in paragraphs:
        key = matching_form(text)
        if key in keys:
            continue
        words = _WORD.findall(key)
        grams = set(zip(words, words[1:], words[2:], strict=False))
        if len(grams) >= rules.repeat_min_trigrams:
            shared = Counter(index for gram in grams for index in holders.get(gram, ()))
            if any(count >= rules.repeat_share * len(grams) for count in shared.values()):
                continue
        keys.add(key)
        for gram in grams:
            holders[gram].append(len(kept))
        kept.append((text, key))
    return kept


def _take_title(
    title: str | None, body: list[tuple[str, str]], rules: Rules
) -> tuple[str | None, list[tuple[str, str]]]:
    """Guess the title from a headline-shaped first paragraph; drop its copies from the body."""
    if title is None and len(body) >= 2 and _looks_like_title(body[0][0], rules):
        title = body[0][0]
    if title is None:
        return None, body
    key = matching_form(title).strip(EDGE)
    return title, [(p, k) for p, k in body if k.strip(EDGE) != key]


def _looks_like_title(text: str, rules: Rules) -> bool:
    stripped = text.rstrip(_CLOSERS)
    return (
        len(text) <= rules.title_length
        and any(c.isalpha() for c in text)
        and stripped[-1:] not in (".", "…", ",", ";", ":", "،", "؛", "。", "۔")
    )


def _find_attribution(paragraphs: Sequence[str], rules: Rules) -> str | None:
    for text in paragraphs:
        for match in rules.attribution_after.finditer(text):
            name = _capitalized(reversed(match["name"].split()))
            if name:
                return " ".join(reversed(name))
        for match in rules.attribution_before.finditer(text):
            name = _capitalized(iter(match["name"].split()))
            if name:
                return " ".join(name)
    return None


def _capitalized(words: Iterator[str]) -> list[str]:
    taken: list[str] = []
    for word in words:
        if not word[0].isupper():
            break
        taken.append(word.rstrip(".,;:'\""))
    return [w for w in taken if w]
