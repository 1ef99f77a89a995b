"""Turn a raw document into clean text and its metadata.

The stage repairs the text (mojibake, Unicode form, invisible characters,
whitespace, quotes), extracts the main content of HTML pages with trafilatura,
removes site chrome and repeated paragraphs, and finds the title, byline,
publication time and source. What counts as chrome, the labels, month names
and date shapes are data: the TOML files in ``rules/``, read once by
load_rules(). Nothing here does I/O but that loader.
"""

from __future__ import annotations

import functools
import html
import json
import re
import tomllib
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ftfy
from ftfy.chardata import UTF8_CLUES, UTF8_DETECTOR_RE

RULES_DIR = Path(__file__).with_name("rules")


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

    @property
    def paragraphs(self) -> list[str]:
        return self.text.split("\n\n") if self.text else []


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
            labels={kind: _label_pattern(labels.get(kind, [])) for kind in _LABEL_KINDS},
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


def matching_form(text: str) -> str:
    """Return the form used for matching, never for display.

    Case-folded; compatibility forms unfolded; digits of every script as ASCII;
    Latin, Greek, Cyrillic, Hebrew and Arabic diacritics and the Arabic tatweel
    removed; Persian yeh and kaf and alef maksura as Arabic yeh and kaf; runs of
    spaces as one space, lines stripped, line breaks kept. Idempotent, and
    matching_form(n.text) == n.matching_text for every normalized n.
    """
    folded = unicodedata.normalize("NFKD", text).casefold()
    folded = _MARKS.sub("", unicodedata.normalize("NFKD", folded))
    folded = _FOREIGN_DIGIT.sub(_ascii_digit, folded)
    for letter, common in _LETTER_FOLDS:
        folded = folded.replace(letter, common)
    return _spaces(unicodedata.normalize("NFC", folded)).strip(" ")


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
    page = _read_html(content, rules) if _is_html(raw.content_type) else _Page(content)
    paragraphs = _paragraphs(_repair(page.text))
    chrome_free, facts = _strip_chrome(paragraphs, rules)
    keyed = _drop_repeats(chrome_free, rules)
    title, keyed = _take_title(_field(raw.title) or _field(page.title), keyed, rules)
    if not keyed:
        keyed = [(p, matching_form(p)) for p in dict.fromkeys(paragraphs)]
    body = [p for p, _ in keyed]
    text = "\n\n".join(body)
    return Normalized(
        text=text,
        title=title,
        byline=_field(raw.byline) or _field(page.byline) or _field(facts.byline),
        published_at=_in_utc(raw.published_at) or page.published_at or facts.published_at,
        source=(
            _field(raw.source)
            or _field(page.source)
            or _field(facts.source)
            or _find_attribution(body[: rules.attribution_paragraphs], rules)
        ),
        # Equal to matching_form(text): the form works line by line.
        matching_text="\n\n".join(key for _, key in keyed),
    )


# Text repair -----------------------------------------------------------------

_LINE_BREAK = re.compile("[\r\v\f\x85\u2028\u2029]")
# C0 controls but tab and newline, and lone surrogates (which cannot be encoded);
# C1 controls go after ftfy, which reads them as the bytes of Latin-1 mojibake.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_C1_CONTROL = re.compile("[\x80-\x9f]")
# Format characters (Unicode category Cf): bidi controls, zero-width space, BOM,
# soft hyphen, tags. ZWNJ and ZWJ (U+200C, U+200D) stay: Persian spelling and
# emoji sequences need them.
_INVISIBLE = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200e\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f]"
)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_SINGLE_QUOTE = re.compile("[\u2018-\u201b]")
_DOUBLE_QUOTE = re.compile("[\u201c-\u201f]")
# Tabs, no-break and other Unicode spaces; then runs of spaces and spaces at line edges.
_ODD_SPACE = re.compile(r"[^\S \n]")
_SPACE_RUN = re.compile(r"  +")
_SPACE_EDGE = re.compile(r" +\n *|\n +")
# Mojibake starts with a character that a UTF-8 lead byte decodes to; without
# one, ftfy's slower detector need not run (docs/performance.md).
_MOJIBAKE_LEAD = re.compile(
    "[{utf8_first_of_2}{utf8_first_of_3}{utf8_first_of_4}]".format(**UTF8_CLUES)
)
_FTFY = ftfy.TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    explain=False,
)


def _repair(text: str) -> str:
    # Each step can uncover work for another (an entity decoding to a control
    # character, mojibake hidden by a zero-width space): repeat to a fixed point.
    for _ in range(4):
        repaired = _repair_once(text)
        if repaired == text:
            break
        text = repaired
    return text


def _repair_once(text: str) -> str:
    text = _CONTROL.sub("", _LINE_BREAK.sub("\n", text.replace("\r\n", "\n")))
    if _MOJIBAKE_LEAD.search(text) and UTF8_DETECTOR_RE.search(text):
        # ftfy is slow per byte: run it only on lines that look like mojibake.
        text = "\n".join(
            ftfy.fix_text(line, _FTFY) if UTF8_DETECTOR_RE.search(line) else line
            for line in text.split("\n")
        )
    text = _INVISIBLE.sub("", _C1_CONTROL.sub("", text))
    text = _ENTITY.sub(lambda m: html.unescape(m.group()), text)
    text = unicodedata.normalize("NFC", text)
    text = _DOUBLE_QUOTE.sub('"', _SINGLE_QUOTE.sub("'", text))
    return _spaces(text).strip()


def _spaces(text: str) -> str:
    return _SPACE_EDGE.sub("\n", _SPACE_RUN.sub(" ", _ODD_SPACE.sub(" ", text)))


def _field(value: str | None) -> str | None:
    """Repair a one-line value (title, byline, a joined paragraph) to a fixed point."""
    if value is None:
        return None
    for _ in range(4):
        # Joining lines can put two halves of a mojibake sequence side by side.
        cleaned = " ".join(_repair(value).split())
        if cleaned == value:
            break
        value = cleaned
    return value or None


def _in_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.utcoffset() is None:
        return moment
    return moment.astimezone(UTC)


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


# Matching form -----------------------------------------------------------------

# Combining diacritics of Latin, Greek, Cyrillic, Hebrew and Arabic (harakat,
# hamza and madda marks, Quranic signs) and the tatweel. Indic and Southeast
# Asian vowel signs are not diacritics and stay.
_MARKS = re.compile(
    "[\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u0640\u064b-\u065f\u0670"
    "\u06d6-\u06ed\u08d3-\u08ff\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
)
_FOREIGN_DIGIT = re.compile(r"[^\D0-9]")
_LETTER_FOLDS = (("\u06cc", "\u064a"), ("\u06a9", "\u0643"), ("\u0649", "\u064a"))


def _ascii_digit(match: re.Match[str]) -> str:
    return str(unicodedata.decimal(match.group()))


# Paragraphs ------------------------------------------------------------------------

_SENTENCE_END = ".!?…。؟۔"
_CLOSERS = "\"')]}»›"
_EDGE = " .,:;!?…-–—|•·»«›‹>*#/\\"


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

_LABEL_KINDS = ("tags", "source", "credit", "byline", "published", "updated")


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
        if key.strip(_EDGE) in rules.block_markers:
            in_block = True
        elif not _is_metadata(text, key, rules, facts):
            kept.append(text)
    return kept, facts


def _is_metadata(text: str, key: str, rules: Rules, facts: _Facts) -> bool:
    if (
        key.strip(_EDGE) in rules.chrome_lines
        or rules.chrome_prefix.search(key)
        or rules.chrome_contains.search(key)
    ):
        return True
    for kind in _LABEL_KINDS:
        label = rules.labels[kind].match(key)
        if label is None:
            continue
        if kind == "tags":
            return True
        if kind == "source":
            facts.source = facts.source or _value_after(text, label.end()) or None
            return True
        if kind == "credit":
            facts.credited = facts.credited or _find_date(key, rules)
            return True
        if kind == "byline":
            name = _person(_value_after(text, label.end()))
            if name is None:
                continue
            facts.byline = facts.byline or name
            return True
        # "Published 3 June 2024": the rest of the line must be the date alone.
        moment = _find_date(key[label.end() :], rules, alone=True)
        if moment is not None:
            if kind == "published":
                facts.labelled = facts.labelled or moment
            return True
    moment = _find_date(key, rules, alone=True)
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
    name = value.strip(_EDGE)
    words = name.split()
    if not 1 <= len(words) <= 8 or len(name) > 80:
        return None
    if any(c.isdigit() or c in "!?؟()[]{}<>@#=+*/\\" for c in name):
        return None
    first = next((c for c in name if c.isalpha()), "")
    if not first or (first.lower() != first.upper() and not first.isupper()):
        return None
    return name


def _find_date(key: str, rules: Rules, *, alone: bool = False) -> datetime | None:
    """Parse the first date in a line's matching form; with alone, only on a date-only line."""
    if not _A_YEAR.search(key):
        # Every date shape has a year: most lines are done with one search.
        return None
    best: re.Match[str] | None = None
    for pattern in rules.dates:
        match = pattern.search(key)
        if match and (best is None or match.start() < best.start()):
            best = match
    if best is None:
        return None
    if alone:
        rest = rules.date_words.sub(" ", key[: best.start()] + " " + key[best.end() :])
        # What is left may be a view counter ("18:53 333"), never words.
        if any(c.isalpha() for c in rest) or len(re.sub(r"[\W_]", "", rest)) > 6:
            return None
    return _moment(best, rules)


def _moment(match: re.Match[str], rules: Rules) -> datetime | None:
    parts = match.groupdict()
    month = rules.months.get(parts["month"]) if parts.get("month") else int(parts["mm"])
    hour = parts.get("hour") or parts.get("lead_hour") or "0"
    minute = parts.get("minute") or parts.get("lead_minute") or "0"
    try:
        moment = datetime(
            int(parts["year"]),
            month or 0,
            int(parts["day"]),
            _hour_of_day(int(hour), parts.get("ampm")),
            int(minute),
            int(parts.get("second") or 0),
        )
    except ValueError:
        return None
    offset = _utc_offset(parts.get("zone"), parts["offset"] or parts["zone_offset"], rules)
    if offset is None:
        return moment
    return (moment - offset).replace(tzinfo=UTC)


def _hour_of_day(hour: int, meridiem: str | None) -> int:
    if meridiem is None:
        return hour
    afternoon = meridiem.startswith("p") or meridiem == "م"
    return hour % 12 + (12 if afternoon else 0)


def _utc_offset(zone: str | None, offset: str | None, rules: Rules) -> timedelta | None:
    if zone is None and offset is None:
        return None
    minutes = rules.timezones.get(zone, 0) if zone else 0
    if offset:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        hours, extra = (digits[:-2], digits[-2:]) if len(digits) > 2 else (digits, "0")
        minutes += sign * (int(hours) * 60 + int(extra))
    return timedelta(minutes=minutes)


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
    key = matching_form(title).strip(_EDGE)
    return title, [(p, k) for p, k in body if k.strip(_EDGE) != key]


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


# HTML --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Page:
    text: str
    title: str | None = None
    byline: str | None = None
    published_at: datetime | None = None
    source: str | None = None


_HTML_ROOT = re.compile(r"<(?:!doctype|html|head|body)\b", re.IGNORECASE)


def _read_html(content: str, rules: Rules) -> _Page:
    """Extract the main text of an HTML page with trafilatura, and its metadata."""
    # Imported here: trafilatura is slow to import and only HTML needs it.
    import trafilatura

    markup = _INVISIBLE.sub("", _C1_CONTROL.sub("", _CONTROL.sub("", content)))
    if not _HTML_ROOT.search(markup[:4096]):
        # trafilatura rejects a bare fragment ("<p>x</p>"); give it a document.
        markup = f"<html><body>{markup}</body></html>"
    tree = trafilatura.load_html(markup)
    if tree is None:
        return _Page("")
    meta = _page_meta(tree)
    site = _first(meta, rules.html_site)
    document = trafilatura.bare_extraction(
        tree,
        # Fast and precise: no second extractor, no recall retry; the chrome is
        # what this stage must lose. Its metadata search (author XPaths,
        # htmldate) costs more than the extraction: the meta tags are read here.
        fast=True,
        favor_precision=True,
        include_comments=False,
        include_images=False,
    )
    text: str | None = None
    if document is not None and not isinstance(document, dict):
        text = document.text
    if not text:
        text = trafilatura.html2txt(tree)
    moments = (_iso_time(meta.get(name), rules) for name in rules.date_meta)
    return _Page(
        text=text or "",
        title=_first(meta, rules.html_title) or _title_element(meta.get("html:title"), site),
        byline=_first(meta, rules.html_author),
        published_at=next((m for m in moments if m is not None), None),
        source=site,
    )


def _page_meta(tree: Any) -> dict[str, str]:
    """Collect meta tags by name (casefolded), JSON-LD fields ("ld:…") and the <title>."""
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        name = meta.get("property") or meta.get("name") or meta.get("itemprop") or ""
        content = (meta.get("content") or "").strip()
        if name.strip() and content:
            found.setdefault(name.strip().casefold(), content)
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() == "application/ld+json" and script.text:
            for key, value in _linked_data(script.text):
                found.setdefault(f"ld:{key}", value)
    title = tree.findtext(".//title")
    if title and title.strip():
        found["html:title"] = title.strip()
    return found


def _linked_data(text: str) -> Iterator[tuple[str, str]]:
    try:
        stack = [json.loads(text)]
    except (ValueError, RecursionError):
        return
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            for key in ("headline", "datePublished"):
                if isinstance(item.get(key), str):
                    yield key.casefold(), item[key]
            for key in ("author", "publisher"):
                name = _linked_name(item.get(key))
                if name:
                    yield key, name
            stack.extend(reversed([v for v in item.values() if isinstance(v, (dict, list))]))


def _linked_name(value: object) -> str | None:
    if isinstance(value, list):
        names = [name for name in map(_linked_name, value) if name]
        return ", ".join(names) or None
    if isinstance(value, dict):
        value = value.get("name")
    if isinstance(value, str) and value.strip() and not value.startswith(("http:", "https:")):
        return value.strip()
    return None


def _first(meta: Mapping[str, str], names: Sequence[str]) -> str | None:
    for name in names:
        value = meta.get(name)
        if value and not value.startswith(("http:", "https:", "@")):
            return value
    return None


_TITLE_SEPARATOR = re.compile(r"\s+(?:[|–—-]|::)\s+")


def _title_element(title: str | None, site: str | None) -> str | None:
    # "Headline | Site" or "Site - Headline": the longest part that is not the site.
    if not title:
        return None
    parts = [p for p in _TITLE_SEPARATOR.split(title) if p.casefold() != (site or "").casefold()]
    return max(parts, key=len) if parts else title


def _iso_time(value: str | None, rules: Rules) -> datetime | None:
    if not value:
        return None
    try:
        return _in_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        return _find_date(matching_form(value), rules)


# Rule compilation ---------------------------------------------------------------------

# Up to four words; a dot only inside one ("El.kz"), never a sentence's end.
_WORD_OF_NAME = r"[^\W\d_][\w&'-]*(?:\.[\w&'-]+)*"
_NAME = rf"{_WORD_OF_NAME}(?: {_WORD_OF_NAME}){{0,3}}"
_DAY = r"(?P<day>3[01]|[12][0-9]|0?[1-9])(?:st|nd|rd|th|er|e|-?го|-?е)?\.?"
_MM = r"(?P<mm>1[0-2]|0?[1-9])"
_YEAR = r"(?P<year>(?:19|20)[0-9]{2})"
_A_YEAR = re.compile(r"(?:19|20)[0-9]{2}")
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
    return matching_form(text).strip(_EDGE)


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
