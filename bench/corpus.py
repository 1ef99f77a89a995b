"""A reproducible news feed built from the project's own articles.

Sources: `seeds/*.txt` and `tests/data/devset/*.jsonl`, whichever exist. A
devset group's original and its translations have aligned paragraphs; they
form one *family* (language -> paragraphs). Every other article is a family
of one language.

Document `i` of a feed depends only on `(seed, i)`, so any slice can be built
anywhere (in a worker process too) and a feed scales to 100,000 documents.
Each document is one of:

- `original`: a distinct story. Families holding its language, in random
  order, a random subset of each one's paragraphs, sentences shuffled; every
  number remapped (the same way in every language of the story), a cast of
  invented names quoted in template sentences, and about a third of the
  longer lowercase words swapped for other words of the language, so two
  stories built from the same paragraphs still share few word 3-shingles.
  Length: 2 to 7 KB of UTF-8 text (HTML pages are larger).
- `republication`: an earlier story, headline changed, a paragraph or two
  cut, boilerplate or a paragraph added, another source.
- `exact`: an earlier story's text, another source.
- `translation`: an earlier story in another language that all its families
  share (same paragraphs, numbers and names).

A fifth of the documents are sent as HTML pages with site chrome.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = ROOT / "seeds"
DEVSET_DIR = ROOT / "tests" / "data" / "devset"

ORIGINAL = "original"
REPUBLICATION = "republication"
EXACT = "exact"
TRANSLATION = "translation"
# Shares of a news feed: most items are new stories; the rest repeat one.
MIX = ((ORIGINAL, 0.62), (REPUBLICATION, 0.16), (EXACT, 0.07), (TRANSLATION, 0.15))
LANGUAGE_WEIGHTS = {"en": 0.4, "ru": 0.14, "ar": 0.12, "de": 0.12, "fr": 0.11, "es": 0.11}
# How far back a repeat looks for its story, in documents.
REPEAT_WINDOW = 400
MIN_BYTES, MAX_BYTES = 2000, 7000
SWAP_SHARE = 0.35
HTML_SHARE = 0.2

_NUMBER = re.compile(r"\d+(?:[.,\u00a0 ]\d{3})*(?:[.,]\d+)?")
_WORD = re.compile(r"[^\W\d_]{4,}")
_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+(?=\S)")

QUOTES = {
    "en": (
        "{name} told reporters that the figures would be reviewed again within {n} days.",
        "According to {name}, about {n} people were directly affected.",
    ),
    "de": (
        "{name} sagte Journalisten, die Zahlen würden innerhalb von {n} Tagen erneut geprüft.",
        "Nach Angaben von {name} waren rund {n} Menschen direkt betroffen.",
    ),
    "fr": (
        "{name} a déclaré aux journalistes que les chiffres seraient réexaminés d'ici {n} jours.",
        "Selon {name}, environ {n} personnes ont été directement touchées.",
    ),
    "es": (
        "{name} dijo a los periodistas que las cifras se revisarían de nuevo en {n} días.",
        "Según {name}, unas {n} personas se vieron directamente afectadas.",
    ),
    "ru": (
        "{name} сообщил журналистам, что данные будут повторно проверены в течение {n} дней.",
        "По словам {name}, непосредственно пострадали около {n} человек.",
    ),
    "ar": (
        "وقال {name} للصحفيين إن الأرقام ستراجع مرة أخرى خلال {n} أيام.",
        "ووفقا لـ{name}، تأثر نحو {n} شخص بشكل مباشر.",
    ),
}
BOILERPLATE = {
    "en": ("LIVE UPDATES", "Read more: our full coverage of the week's events."),
    "de": ("LIVE-TICKER", "Lesen Sie mehr: unsere Berichterstattung zur Woche."),
    "fr": ("EN DIRECT", "Lire aussi : notre couverture complète de la semaine."),
    "es": ("EN DIRECTO", "Lea más: nuestra cobertura completa de la semana."),
    "ru": ("ОНЛАЙН", "Читайте также: наш подробный обзор событий недели."),
    "ar": ("تغطية مباشرة", "اقرأ المزيد: تغطيتنا الكاملة لأحداث الأسبوع."),
}
SOURCES = ("Wire", "Daily", "Herald", "Courier", "Post", "Observer", "Tribune", "Gazette")
_SYLLABLES = ("ka", "lo", "ren", "mi", "tar", "vel", "do", "san", "ber", "nik", "sol", "ra", "gun")
_CYRILLIC = dict(zip("abcdefghijklmnopqrstuvwxyz", "абкдефгхижклмнопкрстуввхйз", strict=True))
_ARABIC = dict(zip("bcdfghjklmnpqrstvwxyz", "بكدفغهجكلمنبقرستفوكيز", strict=True))


@dataclass(frozen=True)
class Family:
    """One text in one or more languages, paragraphs aligned across languages."""

    titles: dict[str, str]
    paragraphs: dict[str, list[str]]


@dataclass(frozen=True)
class Library:
    """Everything the generator draws on, read once from the article files."""

    families: list[Family]
    vocabulary: dict[str, list[str]]
    languages: dict[str, float]


@dataclass(frozen=True)
class Article:
    """One generated document and what it is, for checking the service's answer."""

    index: int
    kind: str
    story: int
    language: str
    payload: dict[str, Any] = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.payload["content"].encode())


@dataclass(frozen=True)
class _Story:
    title: str
    paragraphs: list[str]
    language: str
    languages: list[str]
    published_at: datetime


def _script_language(text: str) -> str:
    if re.search(r"[\u0600-\u06ff]", text):
        return "ar"
    if re.search(r"[\u0400-\u04ff]", text):
        return "ru"
    return "en"


def _split(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"\n\s*\n|\n", text) if part.strip()]


def read_families(seeds_dir: Path = SEEDS_DIR, devset_dir: Path = DEVSET_DIR) -> list[Family]:
    """Read the seed articles and the devset; either may be missing."""
    families: list[Family] = []
    for path in sorted(seeds_dir.glob("*.txt")) if seeds_dir.is_dir() else []:
        lines = _split(path.read_text(encoding="utf-8"))
        if len(lines) >= 2:
            language = _script_language(" ".join(lines))
            families.append(Family({language: lines[0]}, {language: lines[1:]}))
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(devset_dir.glob("*.jsonl")) if devset_dir.is_dir() else []:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            paragraphs = _split(item["text"])
            language = item["lang"]
            if item.get("kind") in ("original", "translation"):
                groups.setdefault(item["group"], {})[language] = {
                    "title": item.get("title") or paragraphs[0],
                    "paragraphs": paragraphs,
                }
            else:
                families.append(Family({language: item.get("title") or ""}, {language: paragraphs}))
    for versions in groups.values():
        counts = {len(v["paragraphs"]) for v in versions.values()}
        if len(counts) != 1:
            versions = dict([next(iter(versions.items()))])
        families.append(
            Family(
                {lang: v["title"] for lang, v in versions.items()},
                {lang: v["paragraphs"] for lang, v in versions.items()},
            )
        )
    return families


@functools.cache
def library() -> Library:
    """Return the article library, read from the project's files on first use."""
    families = read_families()
    if not families:
        raise RuntimeError(f"no articles under {SEEDS_DIR} or {DEVSET_DIR}")
    words: dict[str, set[str]] = {}
    for family in families:
        for language, paragraphs in family.paragraphs.items():
            found = words.setdefault(language, set())
            for paragraph in paragraphs:
                found.update(w for w in _WORD.findall(paragraph) if not w[0].isupper())
    present = {lang: w for lang, w in LANGUAGE_WEIGHTS.items() if lang in words}
    return Library(
        families=families,
        vocabulary={lang: sorted(found) for lang, found in words.items()},
        languages=present or dict.fromkeys(words, 1.0),
    )


def _remap_number(token: str, key: str, mapping: dict[str, str]) -> str:
    """Replace the digits of a number; the same digits map alike in every language."""
    digits = re.sub(r"\D", "", token)
    if digits not in mapping:
        rng = random.Random(f"{key}:{digits}")
        value = int(digits)
        if len(digits) == 4 and 1900 <= value <= 2099:
            new = str(rng.randint(2010, 2027))
        elif len(digits) <= 2 and 1 <= value <= 31:
            new = str(rng.randint(1, 28))
        else:
            low = 10 ** (len(digits) - 1) if len(digits) > 1 else 0
            new = str(rng.randint(low, 10 ** len(digits) - 1))
        mapping[digits] = new
    new_digits = iter(mapping[digits])
    return "".join(next(new_digits, "") if ch.isdigit() else ch for ch in token)


def _transliterate(name: str, language: str) -> str:
    if language == "ru":
        return "".join(_CYRILLIC.get(ch.lower(), ch) for ch in name).title()
    if language == "ar":
        return "".join(_ARABIC.get(ch.lower(), "" if ch.isalpha() else ch) for ch in name)
    return name


def _invent_name(rng: random.Random) -> str:
    def word() -> str:
        return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).title()

    return f"{word()} {word()}"


def _plan(seed: int, story: int, lib: Library) -> tuple[list[tuple[int, list[int]]], str, Any]:
    """Choose the story's language, families and paragraph subsets.

    Four stories in five keep to families that share a second language, so
    that they can be translated.
    """
    rng = random.Random(f"{seed}:story:{story}")
    languages = list(lib.languages)
    language = rng.choices(languages, weights=[lib.languages[x] for x in languages])[0]
    holding = [i for i, f in enumerate(lib.families) if language in f.paragraphs]
    partners = sorted(
        {other for i in holding for other in lib.families[i].paragraphs if other != language}
    )
    if partners and rng.random() < 0.8:
        partner = rng.choice(partners)
        holding = [i for i in holding if partner in lib.families[i].paragraphs]
    target = rng.randint(MIN_BYTES, MAX_BYTES)
    chosen: list[tuple[int, list[int]]] = []
    length = 0
    while length < target:
        rng.shuffle(holding)
        for index in holding:
            paragraphs = lib.families[index].paragraphs[language]
            keep = [p for p in range(len(paragraphs)) if rng.random() > 0.2] or [0]
            chosen.append((index, keep))
            length += sum(len(paragraphs[p].encode()) + 80 for p in keep)
            if length >= target:
                break
    return chosen, language, rng


def _languages(lib: Library, chosen: list[tuple[int, list[int]]]) -> list[str]:
    return sorted(set.intersection(*(set(lib.families[i].paragraphs) for i, _ in chosen)))


def _render(seed: int, story: int, lib: Library, language: str | None = None) -> _Story:
    """Build the story in its own language, or in `language`, one its families share."""
    chosen, primary, rng = _plan(seed, story, lib)
    lang = language or primary
    cast = [_invent_name(rng) for _ in range(rng.randint(3, 5))]
    quotes = [(rng.randrange(2), rng.choice(cast), rng.randint(2, 900)) for _ in chosen]
    published = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(525_600))
    text_rng = random.Random(f"{seed}:text:{story}:{lang}")
    vocabulary = lib.vocabulary[lang]
    numbers: dict[str, str] = {}
    number_key = f"{seed}:numbers:{story}"

    def vary(text: str) -> str:
        text = _NUMBER.sub(lambda m: _remap_number(m.group(), number_key, numbers), text)
        return _WORD.sub(
            lambda m: (
                text_rng.choice(vocabulary)
                if not m.group()[0].isupper() and text_rng.random() < SWAP_SHARE
                else m.group()
            ),
            text,
        )

    out: list[str] = []
    for (family_index, keep), (template, name, count) in zip(chosen, quotes, strict=True):
        family = lib.families[family_index]
        for position, p in enumerate(keep):
            sentences = _SENTENCE_END.split(family.paragraphs[lang][p])
            if len(sentences) > 2:
                middle = sentences[1:]
                text_rng.shuffle(middle)
                sentences = sentences[:1] + middle
            if position == 0:
                quote = QUOTES.get(lang, QUOTES["en"])[template]
                sentences.append(quote.format(name=_transliterate(name, lang), n=count))
            out.append(vary(" ".join(sentences)))
    first = lib.families[chosen[0][0]]
    title = vary(first.titles.get(lang) or out[0][:90])
    return _Story(title, out, primary, _languages(lib, chosen), published)


def _kind(seed: int, index: int) -> str:
    draw = random.Random(f"{seed}:kind:{index}").random()
    for kind, share in MIX:
        if draw < share:
            return kind
        draw -= share
    return ORIGINAL


def _earlier_story(seed: int, index: int, rng: random.Random) -> int | None:
    for _ in range(12):
        if index == 0:
            return None
        earlier = rng.randrange(max(0, index - REPEAT_WINDOW), index)
        if _kind(seed, earlier) == ORIGINAL:
            return earlier
    return None


def _html(title: str, paragraphs: list[str], source: str) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title} | {source}</title></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/sport'>Sport</a></nav>"
        f"<article><h1>{title}</h1>{body}</article>"
        f"<footer>© {source}. All rights reserved. Subscribe to our newsletter.</footer>"
        "</body></html>"
    )


def article(seed: int, index: int, lib: Library | None = None) -> Article:
    """Return document `index` of the feed generated from `seed`."""
    lib = lib or library()
    rng = random.Random(f"{seed}:doc:{index}")
    kind = _kind(seed, index)
    story = index if kind == ORIGINAL else _earlier_story(seed, index, rng)
    if story is None:
        kind, story = ORIGINAL, index
    base = _render(seed, story, lib)
    language, title, paragraphs = base.language, base.title, base.paragraphs
    published = base.published_at
    if kind == TRANSLATION:
        others = [lang for lang in base.languages if lang != language]
        if others:
            language = rng.choice(others)
            translated = _render(seed, story, lib, language)
            title, paragraphs = translated.title, translated.paragraphs
            published += timedelta(hours=rng.randint(1, 30))
        else:
            kind = REPUBLICATION
    if kind == REPUBLICATION:
        title, paragraphs = _edit(title, paragraphs, language, lib, rng)
        published += timedelta(hours=rng.randint(1, 12))
    source = f"{rng.choice(SOURCES)} {language.upper()} {rng.randint(1, 40)}"
    html = rng.random() < HTML_SHARE
    content = _html(title, paragraphs, source) if html else "\n\n".join(paragraphs)
    slug = re.sub(r"\W+", "-", title.lower()).strip("-")[:60] or "story"
    payload: dict[str, Any] = {
        "content": content,
        "content_type": "text/html" if html else "text/plain",
        "title": None if html else title,
        "url": f"https://news{rng.randint(1, 99)}.example/{published:%Y/%m/%d}/{slug}-{index}",
        "source": source,
        "external_id": f"doc-{seed}-{index}",
        "published_at": published.isoformat(),
    }
    return Article(index, kind, story, language, payload)


def _edit(
    title: str, paragraphs: list[str], language: str, lib: Library, rng: random.Random
) -> tuple[str, list[str]]:
    """Edit a copy: new headline, a paragraph or two cut, boilerplate or a paragraph added."""
    vocabulary = lib.vocabulary[language]
    words = title.split()
    if words:
        words[rng.randrange(len(words))] = rng.choice(vocabulary)
    title = " ".join(rng.sample(words, len(words)) if rng.random() < 0.5 else words)
    edited = list(paragraphs)
    for _ in range(rng.randint(0, 2)):
        if len(edited) > 3:
            del edited[rng.randrange(1, len(edited))]
    live, more = BOILERPLATE.get(language, BOILERPLATE["en"])
    if rng.random() < 0.5:
        edited.insert(0, live)
    if rng.random() < 0.5:
        edited.append(more)
    else:
        extra = [f for f in lib.families if language in f.paragraphs]
        edited.insert(
            rng.randrange(1, len(edited) + 1), rng.choice(rng.choice(extra).paragraphs[language])
        )
    return title, edited


def articles(seed: int, count: int, start: int = 0) -> Iterator[Article]:
    """Yield documents `start` to `start + count - 1` of the feed from `seed`."""
    lib = library()
    for index in range(start, start + count):
        yield article(seed, index, lib)
