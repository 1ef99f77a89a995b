"""Tag a document with language-independent identifiers.

Tags are identifiers, not words of one language: an Arabic and an English
article about Kazakhstan carry the same `country:KZ`. Kinds:

- `lang:<iso639-1>`: the document's language.
- `country:<ISO 3166-1 alpha-2>`: countries named in the text, by name,
  official or short name (pycountry, translated through its gettext locales
  for every language in gazetteer/manifest.toml) or by demonym
  (gazetteer/countries.toml). Cities count only with include_cities=True.
- `org:<id>`: organisations from gazetteer/organisations.toml, by name in
  en/ar/ru or by acronym (acronyms match only as written, in capitals).
- `acronym:<XYZ>`: an all-caps word of 3-8 letters that no gazetteer knows.
  A separate kind, not `org:`, so a consumer filtering organisations sees
  only known ones; score 0.3.
- `person:<skeleton>`: people, found by a rule-based recognizer (see
  `_find_people`) or by gazetteer/people.toml; the id is `person_id(name)`.
- `topic:<id>`: gazetteer/topics.toml; tagged only when the body sentences
  with a term hit plus twice the title hits add up to 2 or more.
- `keyword:<phrase>`: at most 8 key phrases (see `_find_keywords`); these are
  words of the document's language, not identifiers.

Matching runs on whole tokens of the text folded the way
`normalize.matching_form` folds it (case, digits, diacritics), plus a few
Arabic letter variants (ى/ي, ة/ه, Persian ی/ک, tatweel). The fold is done
per character of `Normalized.text` rather than taken from `matching_text`,
because whitespace collapsing and compatibility decomposition change lengths:
folding per character keeps an exact map back to `text`, which every tag's
offsets refer to.

Tokens are lightly stemmed before lookup, the same way on both sides:
Latin words lose a plural -s (-ies becomes -y); Cyrillic words lose one
inflectional ending from a closed list (казахстанский, Казахстана ->
казахстан); Arabic words lose the article ال, and text words are also tried
without the proclitics و ف ب ل ك (and لل) and without the nisba endings
ي/ية/يين/يون, so الكازاخستانية and بمصر find كازاخستان and مصر. At each
token the longest term wins; a term written with an initial capital only
matches a capitalized word. All matchers are built once, in the cached
`load_gazetteer`, never at import time.
"""

from __future__ import annotations

import functools
import gettext
import re
import tomllib
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pycountry
from anyascii import anyascii

from services.pipeline.normalize import Normalized, matching_form

TAXONOMY_VERSION = "2025.1"
GAZETTEER_DIR = Path(__file__).with_name("gazetteer")

MAX_KEYWORDS = 8
MAX_OFFSETS = 20
TOPIC_MIN_WEIGHT = 2
ACRONYM_SCORE = 0.3


@dataclass(frozen=True)
class Tag:
    """One tag: an identifier like `country:KZ`, its labels and where it was found.

    `offsets` are (start, end) pairs into Normalized.text; `version` is the
    gazetteer version the tag was made with.
    """

    id: str
    label: str
    score: float = 1.0
    label_local: str | None = None
    evidence: str | None = None
    offsets: tuple[tuple[int, int], ...] = field(default=())
    version: str = TAXONOMY_VERSION

    @property
    def kind(self) -> str:
        return self.id.split(":", 1)[0]

    def to_json(self) -> dict[str, Any]:
        """Return the tag as stored and served (faster than `dataclasses.asdict`)."""
        return {
            "id": self.id,
            "label": self.label,
            "score": self.score,
            "label_local": self.label_local,
            "evidence": self.evidence,
            "offsets": [list(pair) for pair in self.offsets],
            "version": self.version,
        }


class Entry(NamedTuple):
    kind: str  # country, org, person, block (consumes a span, tags nothing), cue-*
    id: str
    lang: str
    needs_capital: bool


class _Node:
    __slots__ = ("children", "entries")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.entries: list[Entry] = []


@dataclass(frozen=True)
class Gazetteer:
    """The compiled data tag() matches with; build it with load_gazetteer()."""

    version: str
    languages: tuple[str, ...]
    include_cities: bool
    entities: _Node
    topics: _Node
    cues: _Node
    acronyms: Mapping[str, tuple[Entry, ...]]
    ignore_acronyms: frozenset[str]
    labels: Mapping[str, str]
    local_labels: Mapping[tuple[str, str], str]
    stopwords: Mapping[str, frozenset[str]]
    particles: frozenset[str]
    not_names: frozenset[str]
    cue_skips: frozenset[str]


# --- folding and tokens -----------------------------------------------------

_ARABIC_LETTERS = str.maketrans(
    {"ى": "ي", "ة": "ه", "ی": "ي", "ک": "ك", "ۀ": "ه", "ٱ": "ا", "ـ": None}
)
_TOKEN = re.compile(r"[^\W_]+")
_TANWEEN = frozenset("\u064b\u064c\u064d")
_JOINER = re.compile(r"[ \u00a0\-\u2010\u2011]*")
_SENTENCE_END = re.compile(r"[.!?؟。]+[\"'”’»)]*\s|\n")


@functools.lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    if char.isspace():
        return " "
    return matching_form(char).translate(_ARABIC_LETTERS)


def _fold(text: str) -> tuple[str, list[int] | None]:
    if text.isascii():
        return text.lower(), None
    parts = list(map(_fold_char, text))
    folded = "".join(parts)
    if len(folded) == len(text) and "" not in parts:
        return folded, None  # one character for one: offsets carry over
    origin: list[int] = []
    for index, part in enumerate(parts):
        origin.extend([index] * len(part))
    return folded, origin


def _script(form: str) -> str:
    first = form[0]
    if "\u0600" <= first <= "\u06ff" or "\ufb50" <= first <= "\ufefc":
        return "arabic"
    if "\u0400" <= first <= "\u04ff":
        return "cyrillic"
    if first.isascii() or "\u00c0" <= first <= "\u024f":
        return "latin"
    return "other"


_CYRILLIC_ENDING_WORDS = (
    "ского скому ским ском ская ской скую ские ских скими ский ское "
    "ами ями ого его ому ему ими ыми ой ей ий ый ая яя ое ее ые ие ых их "
    "ым им ом ем ам ям ах ях ию ия ии ью ья ье а я о е у ю ы и ь"
)
_CYRILLIC_ENDINGS = tuple(
    sorted({matching_form(e) for e in _CYRILLIC_ENDING_WORDS.split()}, key=len, reverse=True)
)
_ARABIC_ARTICLE_CLITICS = ("بال", "وال", "فال", "كال", "لل", "وبال", "ولل")
_ARABIC_CLITICS = ("ولل", "فلل", "لل", "وب", "ول", "وك", "فب", "فل", "و", "ف", "ب", "ل", "ك")


def _stem_latin(form: str) -> str:
    if form.endswith("isation"):
        form = form[:-7] + "ization"
    elif form.endswith("isations"):
        form = form[:-8] + "izations"
    if len(form) > 4 and form.endswith("ies"):
        return form[:-3] + "y"
    if len(form) > 3 and form.endswith("s") and not form.endswith(("ss", "us", "is")):
        return form[:-1]
    return form


def _stem_cyrillic(form: str) -> str:
    for ending in _CYRILLIC_ENDINGS:
        if form.endswith(ending) and len(form) - len(ending) >= 3:
            return form[: -len(ending)]
    return form


def _arabic_base(form: str) -> str:
    return form[2:] if form.startswith("ال") and len(form) >= 5 else form


def _term_key(form: str) -> str:
    """Return the key a gazetteer term's token is stored under."""
    script = _script(form)
    if script == "latin":
        return _stem_latin(form)
    if script == "cyrillic":
        return _stem_cyrillic(form)
    if script == "arabic":
        return _arabic_base(form)
    return form


@functools.lru_cache(maxsize=65536)
def _variants(form: str, *, plain: bool = False) -> tuple[str, ...]:
    """Return the keys a text token may match; plain: without nisba endings."""
    if _script(form) != "arabic":
        return (_term_key(form),)
    bases = [form] + [
        form[len(p) :] for p in _ARABIC_CLITICS if form.startswith(p) and len(form) - len(p) >= 3
    ]
    found: list[str] = []
    for base in bases:
        word = _arabic_base(base)
        forms = [word]
        if plain:
            pass
        elif word.endswith("يه") and len(word) >= 5:
            forms.append(word[:-1])
        if not plain and word.endswith(("يين", "يون")) and len(word) >= 6:
            forms.append(word[:-2])
        if not plain:
            forms += [w[:-1] for w in list(forms) if w.endswith("ي") and len(w) >= 5]
        found += [w for w in forms if w not in found]
    return tuple(found)


class _Doc:
    """Tokens of one text with their spans in the original."""

    def __init__(self, text: str) -> None:
        self.text = text
        folded, origin = _fold(text)
        self.forms: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        for match in _TOKEN.finditer(folded):
            start, end = match.span()
            if origin is not None:
                start, end = origin[start], origin[end - 1] + 1
                while end < len(text) and unicodedata.combining(text[end]):
                    end += 1
            self.forms.append(match.group())
            self.starts.append(start)
            self.ends.append(end)
        self.variants = [_variants(form) for form in self.forms]
        self.plain_variants = [_variants(form, plain=True) for form in self.forms]
        self._sentence_starts: list[int] | None = None

    def __len__(self) -> int:
        return len(self.forms)

    def surface(self, i: int) -> str:
        return self.text[self.starts[i] : self.ends[i]]

    def gap(self, i: int) -> str:
        """Return the text between token i-1 and token i."""
        return self.text[self.ends[i - 1] if i > 0 else 0 : self.starts[i]]

    def capitalized(self, i: int) -> bool:
        first = self.text[self.starts[i]]
        return first.isupper() or first.lower() == first.upper()

    def span(self, i: int, j: int) -> tuple[int, int]:
        return self.starts[i], self.ends[j - 1]

    def sentence_starts(self) -> list[int]:
        if self._sentence_starts is None:
            self._sentence_starts = [0] + [m.end() for m in _SENTENCE_END.finditer(self.text)]
        return self._sentence_starts

    def sentence(self, offset: int) -> str:
        starts = self.sentence_starts()
        index = bisect_right(starts, offset) - 1
        end = starts[index + 1] if index + 1 < len(starts) else len(self.text)
        return self.text[starts[index] : end].strip()[:400]

    def same_sentence(self, i: int, j: int) -> bool:
        starts = self.sentence_starts()
        return bisect_right(starts, self.starts[i]) == bisect_right(starts, self.starts[j])


# --- the gazetteer ------------------------------------------------------------


def _read_toml(name: str) -> dict[str, Any]:
    with (GAZETTEER_DIR / name).open("rb") as file:
        return tomllib.load(file)


def _read_words(path: Path) -> frozenset[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(_fold(line.strip())[0] for line in lines if line.strip()[:1] not in ("", "#"))


def _term_keys(term: str) -> tuple[str, ...]:
    return tuple(_term_key(t) for t in _TOKEN.findall(_fold(term)[0]))


def _add(root: _Node, term: str, entry: Entry) -> None:
    keys = _term_keys(term)
    if not keys:
        return
    node = root
    for key in keys:
        node = node.children.setdefault(key, _Node())
    if entry not in node.entries:
        node.entries.append(entry)


def _country_names(languages: Iterable[str]) -> Iterator[tuple[str, str, str]]:
    """Yield (alpha-2, language, name) from pycountry and its locales."""
    english: dict[str, list[str]] = {}
    for country in pycountry.countries:
        names = [country.name]
        names += [
            getattr(country, a) for a in ("official_name", "common_name") if hasattr(country, a)
        ]
        english[country.alpha_2] = names
    for lang in languages:
        translate = gettext.translation(
            "iso3166-1", pycountry.LOCALES_DIR, languages=[lang], fallback=True
        ).gettext
        named = [(code, translate(name)) for code, names in english.items() for name in names]
        heads: dict[str, set[str]] = {}
        for code, name in named:
            head = re.split(r"[,،]", name)[0].strip()
            heads.setdefault(_fold(head)[0], set()).add(code)
        for code, name in named:
            plain = re.sub(r"\s*\(.*?\)", "", name)
            inner = re.findall(r"\((.*?)\)", name)
            if re.search(r"[,،]", plain):
                head = re.split(r"[,،]", plain)[0].strip()
                # "Korea, Republic of" -> "Korea" only when no other country shares it
                plain = head if len(heads.get(_fold(head)[0], ())) == 1 else ""
            for candidate in [plain, *inner]:
                if candidate:
                    yield code, lang, candidate


def _country_label(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


@functools.lru_cache(maxsize=4)
def load_gazetteer(*, include_cities: bool = False) -> Gazetteer:
    """Load and compile the gazetteer data; cached, so call it freely.

    Pure apart from reading the package's own data files; never called at
    import time. With include_cities, capitals and major cities tag their
    country.
    """
    manifest = _read_toml("manifest.toml")
    languages = tuple(manifest["languages"])
    countries = _read_toml("countries.toml")
    organisations = _read_toml("organisations.toml")
    taxonomy = _read_toml("topics.toml")
    people = _read_toml("people.toml")
    cue_data = _read_toml("person_cues.toml")

    entities, topics, cues = _Node(), _Node(), _Node()
    labels: dict[str, str] = {}
    local: dict[tuple[str, str], str] = {}
    acronyms: dict[str, list[Entry]] = {}
    excluded = {_term_keys(t) for terms in countries["exclude"].values() for t in terms}

    def add_country(code: str, lang: str, term: str) -> None:
        if _term_keys(term) not in excluded:
            _add(entities, term, Entry("country", f"country:{code}", lang, term[0].isupper()))

    for code, lang, name in _country_names(languages):
        add_country(code, lang, name)
        local.setdefault((f"country:{code}", lang), name)
    for code, by_lang in countries["names"].items():
        for lang, terms in by_lang.items():
            for term in terms:
                add_country(code, lang, term)
    if include_cities:
        for code, by_lang in countries["cities"].items():
            for lang, terms in by_lang.items():
                for term in terms:
                    add_country(code, lang, term)
    for code, terms in countries["acronyms"].items():
        for term in terms:
            acronyms.setdefault(term, []).append(Entry("country", f"country:{code}", "*", True))
    for lang, terms in countries["block"].items():
        for term in terms:
            _add(entities, term, Entry("block", "", lang, term[0].isupper()))
    for country in pycountry.countries:
        key = f"country:{country.alpha_2}"
        labels[key] = countries["labels"].get(country.alpha_2) or _country_label(country.alpha_2)
        local[(key, "en")] = labels[key]

    for org in organisations["org"]:
        key = f"org:{org['id']}"
        labels[key] = org["label"]
        for lang in languages:
            for term in org.get(lang, ()):
                _add(entities, term, Entry("org", key, lang, term[0].isupper()))
            if org.get(lang):
                local.setdefault((key, lang), org[lang][0])
        for term in org.get("acronyms", ()):
            acronyms.setdefault(term, []).append(Entry("org", key, "*", True))

    for person in people["person"]:
        key = f"person:{person_id(person['name'])}"
        labels[key] = person["name"]
        for lang in languages:
            for term in person.get(lang, ()):
                _add(entities, term, Entry("person", key, lang, term[0].isupper()))
            if person.get(lang):
                local.setdefault((key, lang), person[lang][0])

    for topic in taxonomy["topic"]:
        key = f"topic:{topic['id']}"
        labels[key] = topic["label"]
        for lang in languages:
            for term in topic.get(lang, ()):
                _add(topics, term, Entry("topic", key, "*", term[0].isupper()))
            if f"label_{lang}" in topic:
                local[(key, lang)] = topic[f"label_{lang}"]

    particles: set[str] = set()
    not_names: set[str] = set()
    skips: set[str] = set()
    for lang, lists in cue_data.items():
        for kind in ("before", "after", "said"):
            for term in lists.get(kind, ()):
                _add(cues, term, Entry(f"cue-{kind}", "", lang, False))
        particles |= {_fold(p)[0] for p in lists.get("particles", ())}
        not_names |= set(lists.get("not_names", ()))
        skips |= {_term_key(_fold(s)[0]) for s in lists.get("skip_after_cue", ())}

    stopwords = {
        path.stem: _read_words(path) for path in sorted((GAZETTEER_DIR / "stopwords").glob("*.txt"))
    }
    return Gazetteer(
        version=str(manifest["version"]),
        languages=languages,
        include_cities=include_cities,
        entities=entities,
        topics=topics,
        cues=cues,
        acronyms={k: tuple(v) for k, v in acronyms.items()},
        ignore_acronyms=frozenset(organisations.get("ignore_acronyms", ())),
        labels=labels,
        local_labels=local,
        stopwords=stopwords,
        particles=frozenset(particles),
        not_names=frozenset(not_names),
        cue_skips=frozenset(skips),
    )


# --- matching -----------------------------------------------------------------


class _Match(NamedTuple):
    start: int  # token index
    end: int  # token index, exclusive
    entries: tuple[Entry, ...]


def _accepts(doc: _Doc, i: int, entry: Entry, languages: frozenset[str] | None) -> bool:
    if languages is not None and entry.lang not in languages and entry.lang != "*":
        return False
    return not entry.needs_capital or doc.capitalized(i)


def _longest(
    doc: _Doc, i: int, root: _Node, languages: frozenset[str] | None, *, plain: bool
) -> _Match | None:
    best: _Match | None = None
    nodes = [root]
    j = i
    variants = doc.plain_variants if plain else doc.variants
    size = len(doc.forms)
    while nodes and j < size:
        nodes = [n.children[v] for n in nodes for v in variants[j] if v in n.children]
        j += 1
        found = tuple(e for n in nodes for e in n.entries if _accepts(doc, i, e, languages))
        if found:
            best = _Match(i, j, found)
    return best


def _scan(
    doc: _Doc, root: _Node, languages: frozenset[str] | None, *, plain: bool = False
) -> list[_Match]:
    """Return the longest non-overlapping matches, left to right."""
    matches: list[_Match] = []
    variants = doc.plain_variants if plain else doc.variants
    first = root.children
    i = 0
    size = len(doc.forms)
    while i < size:
        if not any(v in first for v in variants[i]):
            i += 1
            continue
        match = _longest(doc, i, root, languages, plain=plain)
        if match is None:
            i += 1
        else:
            matches.append(match)
            i = match.end
    return matches


def _languages(gazetteer: Gazetteer, language: str) -> frozenset[str] | None:
    if language in gazetteer.languages:
        return frozenset({language, "en"})
    return None


def _find_entities(
    doc: _Doc, gazetteer: Gazetteer, languages: frozenset[str] | None
) -> list[_Match]:
    matches = _scan(doc, gazetteer.entities, languages)
    taken = {i for m in matches for i in range(m.start, m.end)}
    for i in range(len(doc)):
        if i not in taken:
            entries = gazetteer.acronyms.get(doc.surface(i))
            if entries:
                matches.append(_Match(i, i + 1, entries))
    return sorted(matches)


# --- people -------------------------------------------------------------------

_SKELETON_DIGRAPHS = (
    ("dzh", "j"), ("dj", "j"), ("zh", "j"), ("kh", "k"), ("gh", "g"), ("sh", "s"),
    ("ch", "c"), ("th", "t"), ("dh", "d"), ("ph", "f"), ("ck", "k"),
)  # fmt: skip
_SKELETON_LETTERS = str.maketrans({"q": "k", "h": "k", "v": "f", "p": "b", "x": "k"})
_SKELETON_VOWELS = frozenset("aeiouyw'`")
_NAME_ARTICLES = frozenset({"al", "el", "ul", "ad", "as", "ash", "ar", "an", "az"})


def _word_skeleton(word: str) -> str:
    if word[0] == "ا":
        word = "a" + word[1:]  # anyascii drops alef; a leading one is a vowel
    latin = re.sub(r"[^a-z'`]", "", anyascii(word).lower())
    if not latin.strip("'`") or latin in _NAME_ARTICLES:
        return ""
    for digraph, letter in _SKELETON_DIGRAPHS:
        latin = latin.replace(digraph, letter)
    latin = latin.translate(_SKELETON_LETTERS)
    head = "a" if latin[0] in _SKELETON_VOWELS else latin[0]
    if latin[0] == "w" and len(latin) > 1 and latin[1] not in _SKELETON_VOWELS:
        head = "a"  # Arabic و as a long vowel
    elif latin[0] == "w":
        head = "f"  # Walid / Вальтер: w and v meet at f
    rest = [c for c in latin[1:] if c not in _SKELETON_VOWELS]
    out = head
    for char in rest:
        if char != out[-1]:
            out += char
    return out


def person_id(name: str) -> str:
    """Return a person's language-independent id: the skeleton of the name.

    Each word is transliterated with anyascii (the Arabic article ال and Latin
    "al"/"el" are dropped), then digraphs collapse (dzh/dj/zh->j, kh->k,
    sh->s, gh->g, ch->c, th->t, dh->d, ph->f), q/h/x->k, v->f, p->b, every
    vowel (and w, y, ', `) after the first letter is dropped, a leading vowel
    becomes "a", and doubled letters merge. "Kairat Lama Sharif" and
    "خيرات لاما شريف" both give "krt-lm-srf". Deterministic; lossy by design,
    so distinct names can collide.
    """
    words = []
    for raw in re.split(r"[\s\-\u2010\u2011]+", name.strip()):
        word = _fold(raw)[0]
        if word and _script(word) == "arabic" and word.startswith("ال") and len(word) > 3:
            word = word[2:]
        skeleton = _word_skeleton(word) if word else ""
        if skeleton:
            words.append(skeleton)
    return "-".join(words)


class _Person(NamedTuple):
    start: int
    end: int
    partial: bool  # a single word, e.g. "Ambassador Alimbayev"


def _name_token(doc: _Doc, i: int, gazetteer: Gazetteer, taken: set[int], arabic: bool) -> bool:
    if i in taken:
        return False
    form = doc.forms[i]
    if arabic:
        surface = doc.surface(i)
        return (
            len(form) >= 2
            and not form.isdigit()
            and form not in gazetteer.stopwords.get("ar", frozenset())
            and not _TANWEEN.intersection(surface)
            and not form.startswith(_ARABIC_ARTICLE_CLITICS)
        )
    surface = doc.surface(i)
    return (
        surface[:1].isupper()
        and not surface.isupper()
        and surface not in gazetteer.not_names
        and not form.isdigit()
    )


def _name_from(
    doc: _Doc, i: int, gazetteer: Gazetteer, taken: set[int], *, arabic: bool, limit: int
) -> int:
    """Return the end of the name starting at token i (i itself when none)."""
    j = i
    while j < len(doc) and j - i < limit:
        if j > i and not _JOINER.fullmatch(doc.gap(j)):
            break
        if _name_token(doc, j, gazetteer, taken, arabic):
            form = doc.forms[j]
            # Arabic: a name neither starts with the article nor goes on after
            # an article-bearing family name; a word starting with و is "and ...".
            if (
                arabic
                and len(form) > 3
                and (form.startswith("و") or (form.startswith("ال") and j == i))
            ):
                break
            j += 1
            if arabic and form.startswith("ال"):
                break
        elif j > i and doc.forms[j] in gazetteer.particles:
            j += 1
        else:
            break
    while j > i and doc.forms[j - 1] in gazetteer.particles:
        j -= 1
    return j


_COMPLEMENT = frozenset({"of", "to", "in", "for", "at", "the", "в", "во", "при", "по", "на"})


def _skip_complement(
    doc: _Doc, j: int, gazetteer: Gazetteer, taken: set[int], entity_end: dict[int, int]
) -> tuple[int, bool]:
    """Skip what may sit between a title and a name; return (index, skipped a place)."""
    arabic = _script(doc.forms[j - 1]) == "arabic"
    skipped = False
    for _ in range(6):
        if j >= len(doc) or not _JOINER.fullmatch(doc.gap(j)):
            break
        if j in entity_end:
            j, skipped = entity_end[j], True
        elif arabic and doc.variants[j][0] in gazetteer.cue_skips:
            j += 1  # "لدى", "الشهيرة", ...
        elif arabic and doc.forms[j] in gazetteer.stopwords.get("ar", frozenset()):
            break
        elif arabic and doc.forms[j].startswith("ال") and j not in taken:
            j += 1  # an adjective agreeing with the title
        else:
            k = j
            while k < len(doc) and doc.forms[k] in _COMPLEMENT and _JOINER.fullmatch(doc.gap(k)):
                k += 1
            if k == j or k not in entity_end or not _JOINER.fullmatch(doc.gap(k)):
                break
            j, skipped = entity_end[k], True
    return j, skipped


def _name_before(doc: _Doc, end: int, gazetteer: Gazetteer, taken: set[int], limit: int) -> int:
    """Return the start of a capitalized name ending just before token `end`."""
    start = end
    while start > 0 and end - start < limit:
        k = start - 1
        if k < end - 1 and not _JOINER.fullmatch(doc.gap(k + 1)):
            break
        if _name_token(doc, k, gazetteer, taken, False) or (
            k < end - 1 and doc.forms[k] in gazetteer.particles
        ):
            start = k
        else:
            break
    while start < end and doc.forms[start] in gazetteer.particles:
        start += 1
    return start


def _find_people(
    doc: _Doc, gazetteer: Gazetteer, entities: list[_Match], cues: list[_Match]
) -> list[_Person]:
    """Find people's names with cue rules; every span returned is a name.

    Rules, for every language with the cues in person_cues.toml:
    1. before-cue: a title or role, optionally followed by "of/to/in <known
       country or org>" (Arabic: the country, a demonym, adjectives, "لدى
       <country>"), optionally a comma (not in Arabic), then a name:
       "President of Kazakhstan Kassym-Jomart Tokayev", "السفير خيرات لاما شريف".
    2. said: "said <Name>", "قالت <name>".
    3. after-cue: "<Name>, [the] <role>": "Tatiana Molcean, Executive Secretary".
    4. appositive: ", <Name>," or ", <Name>." in a sentence that has a
       before-cue earlier: "the Head of ... Cooperation, Afnan Al-Shuaibi, praised".
    A name is 2-5 capitalized words (particles like "al", "bin" inside), or in
    Arabic 2-4 words that are no stopword, carry no tanween and are no known
    country or organisation, the first not starting with ال or و. A single
    capitalized word counts only right after a before-cue ("Ambassador
    Alimbayev"). Names the people gazetteer already matched are left to it.
    """
    taken = {i for m in entities for i in range(m.start, m.end)}
    entity_end = {m.start: m.end for m in entities if m.entries[0].kind != "person"}
    found: list[_Person] = []
    for cue in cues:
        kinds = {e.kind for e in cue.entries}
        arabic = _script(doc.forms[cue.start]) == "arabic"
        limit = 4 if arabic else 5
        if kinds & {"cue-before", "cue-said"} and cue.end < len(doc):
            j, skipped = _skip_complement(doc, cue.end, gazetteer, taken, entity_end)
            if j < len(doc):
                gap = doc.gap(j)
                comma = not arabic and gap.strip() == "," and (skipped or "cue-before" in kinds)
                if _JOINER.fullmatch(gap) or comma:
                    end = _name_from(doc, j, gazetteer, taken, arabic=arabic, limit=limit)
                    size = end - j
                    single = size == 1 and "cue-before" in kinds and not arabic
                    if size >= 2 or single:
                        found.append(_Person(j, end, size == 1))
        if "cue-after" in kinds and not arabic and cue.start > 1:
            end = cue.start
            if doc.forms[end - 1] in ("the", "former") and _JOINER.fullmatch(doc.gap(end)):
                end -= 1
            if doc.gap(end).strip() == ",":
                start = _name_before(doc, end, gazetteer, taken, limit)
                if end - start >= 2:
                    found.append(_Person(start, end, False))
    before = [c.start for c in cues if any(e.kind == "cue-before" for e in c.entries)]
    for i in range(1, len(doc)):
        if doc.gap(i).strip() not in (",", "،"):
            continue
        arabic = _script(doc.forms[i]) == "arabic"
        end = _name_from(doc, i, gazetteer, taken, arabic=arabic, limit=3 if arabic else 4)
        if end - i < 2:
            continue
        closing = doc.gap(end).strip()[:1] if end < len(doc) else "."
        if closing in (",", ".", "،", ";", "؛") and any(
            c < i and doc.same_sentence(c, i) for c in before
        ):
            found.append(_Person(i, end, False))
    return found


# --- building tags ------------------------------------------------------------


class _Hits:
    """Occurrences of one tag id in the body and the title."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, int]] = []
        self.title = 0
        self.surface: str | None = None
        self.score = 1.0


def _collect(
    hits: dict[str, _Hits], key: str, doc: _Doc, i: int, j: int, *, in_title: bool
) -> None:
    entry = hits.setdefault(key, _Hits())
    if entry.surface is None:
        entry.surface = doc.text[doc.starts[i] : doc.ends[j - 1]]
    if in_title:
        entry.title += 1
    else:
        entry.spans.append(doc.span(i, j))


def _entity_hits(
    doc: _Doc,
    in_title: bool,
    gazetteer: Gazetteer,
    languages: frozenset[str] | None,
    hits: dict[str, _Hits],
) -> set[int]:
    """Add the document's countries, orgs, people and acronyms to hits.

    Return the token indices that belong to a known name.
    """
    entities = _find_entities(doc, gazetteer, languages)
    for match in entities:
        for key in dict.fromkeys(e.id for e in match.entries if e.kind != "block"):
            _collect(hits, key, doc, match.start, match.end, in_title=in_title)
    taken = {i for m in entities for i in range(m.start, m.end)}
    cues = _scan(doc, gazetteer.cues, languages, plain=True) if not in_title else []
    people = _find_people(doc, gazetteer, entities, cues)
    full: dict[str, str] = {}
    for person in sorted(people, key=lambda p: (p.partial, p.start)):
        name = doc.text[doc.starts[person.start] : doc.ends[person.end - 1]]
        pid = person_id(name)
        if not pid:
            continue
        last = person_id(doc.surface(person.end - 1))
        if person.partial:
            pid = full.get(last, pid)
        else:
            full.setdefault(last, pid)
        key = f"person:{pid}"
        if key in hits and doc.span(person.start, person.end) in hits[key].spans:
            continue
        _collect(hits, key, doc, person.start, person.end, in_title=in_title)
        if person.partial and pid not in full.values():
            hits[key].score = 0.5
        taken.update(range(person.start, person.end))
    for i in range(len(doc)):
        surface = doc.surface(i)
        if i in taken or not _unknown_acronym(surface, gazetteer):
            continue
        shouting = any(
            0 <= k < len(doc) and len(doc.forms[k]) > 1 and doc.surface(k).isupper()
            for k in (i - 1, i + 1)
        )
        if not shouting:
            key = f"acronym:{surface}"
            _collect(hits, key, doc, i, i + 1, in_title=in_title)
            hits[key].score = ACRONYM_SCORE
    return taken


_ACRONYM = re.compile(r"[A-ZА-ЯЁ][A-ZА-ЯЁ0-9]{2,7}")


def _unknown_acronym(surface: str, gazetteer: Gazetteer) -> bool:
    return (
        _ACRONYM.fullmatch(surface) is not None
        and surface not in gazetteer.acronyms
        and surface not in gazetteer.ignore_acronyms
        and re.fullmatch(r"[IVXLCDM]+", surface) is None
    )


def _topic_hits(docs: list[tuple[_Doc, bool]], gazetteer: Gazetteer) -> dict[str, _Hits]:
    """Return the topics that pass the rule: sentences with a hit + 2 x title hits >= 2.

    Hits are counted once per body sentence, so "the fight against terrorism
    and extremism" is one mention, not two.
    """
    hits: dict[str, _Hits] = {}
    body = docs[0][0]
    for doc, in_title in docs:
        for match in _scan(doc, gazetteer.topics, None):
            for key in dict.fromkeys(e.id for e in match.entries):
                _collect(hits, key, doc, match.start, match.end, in_title=in_title)
    starts = body.sentence_starts()
    kept = {}
    for key, hit in hits.items():
        sentences = {bisect_right(starts, start) for start, _ in hit.spans}
        weight = len(sentences) + 2 * hit.title
        if weight >= TOPIC_MIN_WEIGHT:
            hit.score = round(min(1.0, weight / 6), 3)
            kept[key] = hit
    return kept


def _find_keywords(
    doc: _Doc, title: _Doc | None, stopwords: frozenset[str], names: set[int]
) -> list[tuple[str, str, float, list[tuple[int, int]]]]:
    """Return up to MAX_KEYWORDS (id suffix, label, score, spans), best first.

    Candidates are 1-3 word runs inside a clause (no punctuation between the
    words) with no stopword, number, word shorter than 3 letters or word of a
    known name (`names`: those are tags already), keyed by their stemmed
    forms. score = occurrences x words, +2 x words when the phrase is in the
    title; a phrase must occur twice or be in the title. A phrase contained
    in a chosen one, or containing it, is skipped. Linear in the number of
    tokens. Without a stopword list for the language, only single words of 5+
    letters are candidates.
    """
    shortest = 3 if stopwords else 5
    keys = [v[0] for v in doc.variants]
    usable = [
        len(form) >= shortest
        and form not in stopwords
        and keys[i] not in stopwords
        and not form.isdigit()
        and i not in names
        for i, form in enumerate(doc.forms)
    ]
    joined = [i > 0 and _JOINER.fullmatch(doc.gap(i)) is not None for i in range(len(doc))]
    counts: dict[tuple[str, ...], list[tuple[int, int]]] = {}
    for i in range(len(doc)):
        for size in (1, 2, 3) if stopwords else (1,):
            j = i + size
            if j > len(doc) or not usable[j - 1] or (size > 1 and not joined[j - 1]):
                break
            counts.setdefault(tuple(keys[i:j]), []).append(doc.span(i, j))
    in_title: set[tuple[str, ...]] = set()
    if title is not None:
        keys = [v[0] for v in title.variants]
        for size in (1, 2, 3):
            in_title |= {tuple(keys[k : k + size]) for k in range(len(keys) - size + 1)}
    scored = []
    for key, spans in counts.items():
        boost = 2 if key in in_title else 0
        if len(spans) >= 2 or boost:
            scored.append(((len(spans) + boost) * len(key), key, spans))
    scored.sort(key=lambda s: (-s[0], s[1]))
    chosen: list[tuple[str, str, float, list[tuple[int, int]]]] = []
    picked: list[tuple[tuple[str, ...], int]] = []
    top = scored[0][0] if scored else 1
    for score, key, spans in scored:
        if any(_contains(key, other) or _contains(other, key) for other, _ in picked):
            continue
        picked.append((key, score))
        start, end = spans[0]
        label = doc.text[start:end]
        chosen.append(("-".join(_fold(label)[0].split()), label, round(score / top, 3), spans))
        if len(chosen) == MAX_KEYWORDS:
            break
    return chosen


def _contains(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    size = len(inner)
    return any(outer[k : k + size] == inner for k in range(len(outer) - size + 1))


def _language_tag(language: str, version: str) -> Tag:
    code = (language or "und").strip().lower() or "und"
    record = pycountry.languages.get(alpha_2=code) if len(code) == 2 else None
    label = str(record.name) if record is not None else ("Undetermined" if code == "und" else code)
    local = None
    if record is not None:
        local = gettext.translation(
            "iso639-3", pycountry.LOCALES_DIR, languages=[code], fallback=True
        ).gettext(record.name)
        local = local if local != label else None
    return Tag(id=f"lang:{code}", label=label, label_local=local, version=version)


def _evidence(doc: _Doc, hit: _Hits, title: str | None) -> str | None:
    if hit.spans:
        return doc.sentence(hit.spans[0][0])
    return title


def tag(normalized: Normalized, language: str, gazetteer: Gazetteer | None = None) -> list[Tag]:
    """Return the document's tags, sorted by id. Never raises on any text.

    Deterministic and pure: the same document, language and gazetteer give the
    same tags. Offsets refer to `normalized.text`; a tag found only in the
    title has no offsets and the title as evidence.
    """
    gazetteer = gazetteer or load_gazetteer()
    version = gazetteer.version
    code = (language or "und").strip().lower() or "und"
    languages = _languages(gazetteer, code)
    body = _Doc(normalized.text or "")
    title = _Doc(normalized.title) if normalized.title else None
    docs = [(body, False)] + ([(title, True)] if title is not None else [])

    tags = [_language_tag(code, version)]
    hits: dict[str, _Hits] = {}
    names = _entity_hits(body, False, gazetteer, languages, hits)
    if title is not None:
        _entity_hits(title, True, gazetteer, languages, hits)
    hits.update(_topic_hits(docs, gazetteer))
    title_text = normalized.title
    for key, hit in hits.items():
        kind = key.split(":", 1)[0]
        local = gazetteer.local_labels.get((key, code)) if code != "en" else None
        label = gazetteer.labels.get(key)
        if kind == "person" and label is None:
            surface = hit.surface or key
            label = surface if surface.isascii() else anyascii(surface).title()
            local = surface if not surface.isascii() else None
        elif kind == "acronym":
            label = key.split(":", 1)[1]
        tags.append(
            Tag(
                id=key,
                label=label or key,
                score=hit.score,
                label_local=local if local != label else None,
                evidence=_evidence(body, hit, title_text),
                offsets=tuple(hit.spans[:MAX_OFFSETS]),
                version=version,
            )
        )
    stopwords = gazetteer.stopwords.get(code, frozenset())
    for suffix, label, score, spans in _find_keywords(body, title, stopwords, names):
        tags.append(
            Tag(
                id=f"keyword:{suffix}",
                label=label,
                score=score,
                evidence=body.sentence(spans[0][0]),
                offsets=tuple(spans[:MAX_OFFSETS]),
                version=version,
            )
        )
    unique = {t.id: t for t in tags}
    return sorted(unique.values(), key=lambda t: t.id)
