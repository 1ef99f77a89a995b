"""Load and compile the gazetteer data (services/pipeline/gazetteer/) into tries.

Kinds of entries: countries (pycountry's names and their gettext
translations for every language in manifest.toml, plus countries.toml's
names and demonyms; cities only with include_cities), organisations
(organisations.toml, by name or by acronym), people (people.toml, under
their `name_key`), topics (topics.toml) and person cues (person_cues.toml).
Terms are folded and stemmed the way text tokens are (`text.stems`), so a
lookup compares like with like. A term written with an initial capital only
matches a capitalized word. Everything is built once, in the cached
`load_gazetteer`, never at import time.
"""

from __future__ import annotations

import functools
import gettext
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pycountry

from services.pipeline.tagging.tokens import TOKEN
from services.pipeline.text.fold import fold
from services.pipeline.text.skeleton import name_key
from services.pipeline.text.stems import term_key

GAZETTEER_DIR = Path(__file__).parents[1] / "gazetteer"


class Entry(NamedTuple):
    kind: str  # country, org, person, topic, block (consumes a span, tags nothing), cue-*
    id: str
    lang: str
    needs_capital: bool


class Node:
    """A trie node: children by token key, and the entries of terms ending here."""

    __slots__ = ("children", "entries")

    def __init__(self) -> None:
        self.children: dict[str, Node] = {}
        self.entries: list[Entry] = []


@dataclass(frozen=True)
class Gazetteer:
    """The compiled data tag() matches with; build it with load_gazetteer()."""

    version: str
    languages: tuple[str, ...]
    include_cities: bool
    entities: Node
    topics: Node
    cues: Node
    acronyms: Mapping[str, tuple[Entry, ...]]
    ignore_acronyms: frozenset[str]
    labels: Mapping[str, str]
    local_labels: Mapping[tuple[str, str], str]
    stopwords: Mapping[str, frozenset[str]]
    particles: frozenset[str]
    not_names: frozenset[str]
    cue_skips: frozenset[str]


@dataclass
class _Builder:
    """What load_gazetteer fills while it reads the data files."""

    languages: tuple[str, ...]
    entities: Node = field(default_factory=Node)
    topics: Node = field(default_factory=Node)
    cues: Node = field(default_factory=Node)
    labels: dict[str, str] = field(default_factory=dict)
    local: dict[tuple[str, str], str] = field(default_factory=dict)
    acronyms: dict[str, list[Entry]] = field(default_factory=dict)
    particles: set[str] = field(default_factory=set)
    not_names: set[str] = field(default_factory=set)
    cue_skips: set[str] = field(default_factory=set)

    def add_acronym(self, term: str, entry: Entry) -> None:
        self.acronyms.setdefault(term, []).append(entry)


@functools.lru_cache(maxsize=4)
def load_gazetteer(*, include_cities: bool = False) -> Gazetteer:
    """Load and compile the gazetteer data; cached, so call it freely.

    Pure apart from reading the package's own data files; never called at
    import time. With include_cities, capitals and major cities tag their
    country.
    """
    manifest = _read_toml("manifest.toml")
    organisations = _read_toml("organisations.toml")
    built = _Builder(languages=tuple(manifest["languages"]))
    _add_countries(built, _read_toml("countries.toml"), include_cities=include_cities)
    _add_organisations(built, organisations)
    _add_people(built, _read_toml("people.toml"))
    _add_topics(built, _read_toml("topics.toml"))
    _add_cues(built, _read_toml("person_cues.toml"))
    stopwords = {
        path.stem: _read_words(path) for path in sorted((GAZETTEER_DIR / "stopwords").glob("*.txt"))
    }
    return Gazetteer(
        version=str(manifest["version"]),
        languages=built.languages,
        include_cities=include_cities,
        entities=built.entities,
        topics=built.topics,
        cues=built.cues,
        acronyms={k: tuple(v) for k, v in built.acronyms.items()},
        ignore_acronyms=frozenset(organisations.get("ignore_acronyms", ())),
        labels=built.labels,
        local_labels=built.local,
        stopwords=stopwords,
        particles=frozenset(built.particles),
        not_names=frozenset(built.not_names),
        cue_skips=frozenset(built.cue_skips),
    )


def _read_toml(name: str) -> dict[str, Any]:
    with (GAZETTEER_DIR / name).open("rb") as file:
        return tomllib.load(file)


def _read_words(path: Path) -> frozenset[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(fold(line.strip())[0] for line in lines if line.strip()[:1] not in ("", "#"))


def term_keys(term: str) -> tuple[str, ...]:
    """Return the keys of a term's tokens, as a trie path."""
    return tuple(term_key(t) for t in TOKEN.findall(fold(term)[0]))


def _add(root: Node, term: str, entry: Entry) -> None:
    keys = term_keys(term)
    if not keys:
        return
    node = root
    for key in keys:
        node = node.children.setdefault(key, Node())
    if entry not in node.entries:
        node.entries.append(entry)


def _terms(by_lang: Mapping[str, Mapping[str, Iterable[str]]]) -> Iterator[tuple[str, str, str]]:
    """Yield (code, language, term) from a `code -> language -> terms` table."""
    for code, languages in by_lang.items():
        for lang, terms in languages.items():
            for term in terms:
                yield code, lang, term


def _add_countries(built: _Builder, countries: dict[str, Any], *, include_cities: bool) -> None:
    excluded = {term_keys(t) for terms in countries["exclude"].values() for t in terms}

    def add_country(code: str, lang: str, term: str) -> None:
        if term_keys(term) not in excluded:
            entry = Entry("country", f"country:{code}", lang, term[0].isupper())
            _add(built.entities, term, entry)

    for code, lang, name in _country_names(built.languages):
        add_country(code, lang, name)
        built.local.setdefault((f"country:{code}", lang), name)
    for code, lang, term in _terms(countries["names"]):
        add_country(code, lang, term)
    if include_cities:
        for code, lang, term in _terms(countries["cities"]):
            add_country(code, lang, term)
    for code, terms in countries["acronyms"].items():
        for term in terms:
            built.add_acronym(term, Entry("country", f"country:{code}", "*", True))
    for lang, terms in countries["block"].items():
        for term in terms:
            _add(built.entities, term, Entry("block", "", lang, term[0].isupper()))
    for country in pycountry.countries:
        key = f"country:{country.alpha_2}"
        label = countries["labels"].get(country.alpha_2) or _country_label(country.alpha_2)
        built.labels[key] = label
        built.local[(key, "en")] = label


def _add_named(built: _Builder, root: Node, kind: str, key: str, record: dict[str, Any]) -> None:
    """Add a record's terms in every language, and its first term as the local label."""
    for lang in built.languages:
        for term in record.get(lang, ()):
            _add(root, term, Entry(kind, key, lang, term[0].isupper()))
        if record.get(lang):
            built.local.setdefault((key, lang), record[lang][0])


def _add_organisations(built: _Builder, organisations: dict[str, Any]) -> None:
    for org in organisations["org"]:
        key = f"org:{org['id']}"
        built.labels[key] = org["label"]
        _add_named(built, built.entities, "org", key, org)
        for term in org.get("acronyms", ()):
            built.add_acronym(term, Entry("org", key, "*", True))


def _add_people(built: _Builder, people: dict[str, Any]) -> None:
    for person in people["person"]:
        key = f"person:{name_key(person['name'])}"
        built.labels[key] = person["name"]
        _add_named(built, built.entities, "person", key, person)


def _add_topics(built: _Builder, taxonomy: dict[str, Any]) -> None:
    for topic in taxonomy["topic"]:
        key = f"topic:{topic['id']}"
        built.labels[key] = topic["label"]
        for lang in built.languages:
            for term in topic.get(lang, ()):
                _add(built.topics, term, Entry("topic", key, "*", term[0].isupper()))
            if f"label_{lang}" in topic:
                built.local[(key, lang)] = topic[f"label_{lang}"]


def _add_cues(built: _Builder, cue_data: dict[str, Any]) -> None:
    for lang, lists in cue_data.items():
        for kind in ("before", "after", "said"):
            for term in lists.get(kind, ()):
                _add(built.cues, term, Entry(f"cue-{kind}", "", lang, False))
        built.particles |= {fold(p)[0] for p in lists.get("particles", ())}
        built.not_names |= set(lists.get("not_names", ()))
        built.cue_skips |= {term_key(fold(s)[0]) for s in lists.get("skip_after_cue", ())}


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
            heads.setdefault(fold(head)[0], set()).add(code)
        for code, name in named:
            plain = re.sub(r"\s*\(.*?\)", "", name)
            inner = re.findall(r"\((.*?)\)", name)
            if re.search(r"[,،]", plain):
                head = re.split(r"[,،]", plain)[0].strip()
                # "Korea, Republic of" -> "Korea" only when no other country shares it
                plain = head if len(heads.get(fold(head)[0], ())) == 1 else ""
            for candidate in [plain, *inner]:
                if candidate:
                    yield code, lang, candidate


def _country_label(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)
