"""Compute what deduplication compares: hashes, MinHash and evidence.

A fingerprint has three parts, all derived from the normalized document:

- `content_hash`: SHA-256 of the matching form of the body (exact duplicates).
- `data`: what `dedup.decide` compares, stored with the document (JSON,
  about 1.5 kB): a MinHash signature of word shingles (near duplicates) and
  the evidence that survives translation, each item with its first relative
  position in the text (`ev`): dates as ISO month-day and year-month,
  numbers in canonical form (scale words applied: 1,5 млн, 25亿, 3 करोड़),
  names as Latin consonant skeletons, entity tag ids. Also `lx`: the
  skeletons of the text's words of five or more Latin letters, distinct, in
  order of first occurrence, at most 200 — names, loanwords and shared terms
  ('интернет'/'internet'/'इंटरनेट' all give 'ntrn') that a translation keeps in
  about the same order. Han, hiragana and Thai runs give none (only their
  katakana words do): their transliteration shares nothing with other scripts.
- `keys`: the keys under which the storage indexes the document (table
  `match_keys(key, added_at, document_id)`); candidates for a new document are the
  stored documents that share its content hash or any of its keys, the
  most shared first:

  ====================  ==================================================
  ``lsh:<band>:<hex>``  one per MinHash band (42 bands of 3 rows at the
                        default LSH threshold 0.5): near duplicates
  ``n3:<a>|<b>|<c>``    sorted triple of the six most specific numbers
  ``n2:<a>|<b>``        the pair, when a document has only two such numbers
  ``n1:<n>``            each specific number (not a year, at least 100 or
                        a decimal), at most six
  ``ev:<MM-DD>|<n>``    a day of a date with a specific number
  ``w:<s>``             a single skeleton: the five most frequent names
                        (scripts with letter case) and the first 20
                        four-letter skeletons of `lx`
  ``nm:<s1>|<s2>``      a pair of the five most frequent name skeletons
                        (scripts with letter case only)
  ``nn:<s>|<n>``        one of the three most frequent name skeletons with
                        one of the three most specific numbers (ditto)
  ``tg:<id1>|<id2>``    a pair of entity tag ids, at least one not a country
  ====================  ==================================================

  Every key but ``lsh:`` survives translation, and a document with any
  number or word of five letters has some (single keys make sure of it).
  At most 150 keys per document (42 + 20 + 6 + 12 + 25 + 10 + 9 + 10 =
  134). A single key that many documents share costs nothing more: the
  lookup reads only its newest postings, and candidates sharing more keys
  rank first. Changing `FingerprintSettings`, the skeleton or `DATA_VERSION`
  changes the keys: stored documents must then be fingerprinted again.

Skeletons (`skeleton`) transliterate any script with anyascii, then keep
consonants, merging those that scripts and transliterations confuse (b, p, f
and v; c, k and q; s and z; kh, ch and k; ...) and cutting at four letters,
so inflection and particles mostly fall off. Script-specific repairs: Russian
case endings, Hebrew vav (a vowel letter), Devanagari anusvara (n before a
consonant), Arabic article and proclitics.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

import numpy as np
from anyascii import anyascii

from services.pipeline.normalize import Normalized, matching_form
from services.pipeline.tag import Tag

DATA_VERSION = 2

_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)


@dataclass(frozen=True)
class Fingerprint:
    content_hash: str
    keys: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FingerprintSettings:
    """How fingerprints are computed; stored keys depend on every field."""

    num_perm: int = 128
    shingle_size: int = 3
    lsh_threshold: float = 0.5
    seed: int = 1
    key_numbers: int = 6
    key_names: int = 5
    key_tags: int = 5
    key_words: int = 20


@dataclass(frozen=True)
class Lexicon:
    """Language data read from `services/pipeline/matching/`."""

    months: dict[str, int]
    scales: dict[str, int]
    date_fillers: frozenset[str]
    length_factor: dict[str, float]


def fingerprint(
    normalized: Normalized,
    language: str,
    tags: Sequence[Tag],
    *,
    settings: FingerprintSettings | None = None,
    lexicon: Lexicon | None = None,
) -> Fingerprint:
    """Return the fingerprint of a normalized document.

    Deterministic and total: the same input gives the same fingerprint in any
    process, and no text makes it raise. `data` stays JSON-serializable: it is
    stored with the document and handed back inside a `Candidate`.
    """
    settings = settings or FingerprintSettings()
    lexicon = lexicon or load_lexicon()
    digest = hashlib.sha256(normalized.matching_text.encode()).hexdigest()

    signature, shingle_count = minhash(normalized.matching_text, settings)
    paragraphs = [p for p in [normalized.title or "", *normalized.paragraphs] if p]
    evidence = _extract_evidence(paragraphs, tags, lexicon)

    data: dict[str, Any] = {
        "v": DATA_VERSION,
        "lang": language,
        "mh": _encode_signature(signature) if shingle_count else "",
        "ns": shingle_count,
        "len": len(normalized.text),
        "par": evidence.paragraph_starts,
        "cased": evidence.cased,
        "ev": evidence.positions,
        "sf": evidence.surfaces,
        "lx": " ".join(evidence.lexical),
    }
    keys: list[str] = []
    if shingle_count:
        keys.extend(band_keys(signature, settings))
    keys.extend(_evidence_keys(evidence, settings))
    return Fingerprint(content_hash=digest, keys=tuple(dict.fromkeys(keys)), data=data)


@functools.cache
def load_lexicon() -> Lexicon:
    """Read the packaged month, number and language data once per process."""
    folder = resources.files("services.pipeline") / "matching"
    months_raw = json.loads((folder / "months.json").read_text(encoding="utf-8"))
    numbers_raw = json.loads((folder / "numbers.json").read_text(encoding="utf-8"))
    languages_raw = json.loads((folder / "languages.json").read_text(encoding="utf-8"))
    months = {
        _fold(form): int(month)
        for month, forms in months_raw.items()
        if not month.startswith("_")
        for form in forms
    }
    scales = {
        _fold(word): int(value) for value, words in numbers_raw["scales"].items() for word in words
    }
    return Lexicon(
        months=months,
        scales=scales,
        date_fillers=frozenset(_fold(w) for w in numbers_raw["date_fillers"]),
        length_factor={k: float(v) for k, v in languages_raw["length_factor"].items()},
    )


# --- MinHash ---------------------------------------------------------------

_WORD = re.compile(r"\w+")
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def shingle_hashes(matching_text: str, size: int) -> np.ndarray:
    """Return the distinct 32-bit hashes of the text's word shingles.

    Scripts written without spaces (Chinese, Japanese, Thai) count each
    character as a word. Deterministic across processes (CRC-32 based).
    """
    tokens: list[str] = []
    for word in _WORD.findall(matching_text):
        if _UNSPACED.search(word):
            tokens.extend(word)
        else:
            tokens.append(word)
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    ids = np.fromiter(
        (zlib.crc32(t.encode("utf-8", "surrogatepass")) for t in tokens),
        dtype=np.uint64,
        count=len(tokens),
    )
    width = min(size, len(ids))
    mixed = np.zeros(len(ids) - width + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(width):
            multiplier = np.uint64(0x9E3779B97F4A7C15 + 2 * offset)
            mixed ^= ids[offset : offset + len(mixed)] * multiplier
            mixed = (mixed << np.uint64(7)) | (mixed >> np.uint64(57))
        mixed ^= mixed >> np.uint64(31)
        mixed *= np.uint64(0xBF58476D1CE4E5B9)
        mixed ^= mixed >> np.uint64(29)
    return np.unique(mixed & _MAX_HASH)


@functools.cache
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # The same parameters as datasketch's "legacy" MinHash, so signatures can
    # be checked against it.
    generator = np.random.RandomState(seed)
    pairs = np.array(
        [
            (
                generator.randint(1, _MERSENNE_PRIME, dtype=np.uint64),
                generator.randint(0, _MERSENNE_PRIME, dtype=np.uint64),
            )
            for _ in range(num_perm)
        ],
        dtype=np.uint64,
    ).T
    return pairs[0], pairs[1]


def minhash(matching_text: str, settings: FingerprintSettings) -> tuple[np.ndarray, int]:
    """Return the MinHash signature of the text's shingles and their count.

    The signature has `settings.num_perm` unsigned 32-bit values; an empty
    text gives all-maximum values and a count of 0.
    """
    hashes = shingle_hashes(matching_text, settings.shingle_size)
    a, b = _permutations(settings.num_perm, settings.seed)
    if not len(hashes):
        return np.full(settings.num_perm, _MAX_HASH, dtype=np.uint64), 0
    with np.errstate(over="ignore"):
        permuted = (hashes[:, None] * a + b) % _MERSENNE_PRIME & _MAX_HASH
    return permuted.min(axis=0), len(hashes)


def lsh_shape(settings: FingerprintSettings) -> tuple[int, int]:
    """Return (bands, rows): the most rows per band that still catch 99%.

    Pairs at the LSH threshold Jaccard become candidates with probability
    at least 0.99; more rows make keys more selective.
    """
    best = (settings.num_perm, 1)
    for rows in range(1, settings.num_perm + 1):
        bands = settings.num_perm // rows
        caught = 1 - (1 - settings.lsh_threshold**rows) ** bands
        if caught >= 0.99:
            best = (bands, rows)
    return best


def band_keys(signature: np.ndarray, settings: FingerprintSettings) -> list[str]:
    """Return one `lsh:<band>:<hex>` key per band of the signature."""
    bands, rows = lsh_shape(settings)
    values = signature.astype("<u4")
    keys = []
    for band in range(bands):
        chunk = values[band * rows : (band + 1) * rows].tobytes()
        digest = hashlib.blake2b(chunk, digest_size=8, salt=b"r%d" % rows).hexdigest()
        keys.append(f"lsh:{band}:{digest}")
    return keys


def _encode_signature(signature: np.ndarray) -> str:
    return base64.b64encode(signature.astype("<u4").tobytes()).decode("ascii")


def decode_signature(encoded: str) -> np.ndarray:
    """Return the signature stored by `fingerprint` (empty for none)."""
    if not encoded:
        return np.zeros(0, dtype="<u4")
    return np.frombuffer(base64.b64decode(encoded), dtype="<u4")


# --- evidence that survives translation ------------------------------------

_DIGIT_ZEROS = (
    0x660,
    0x6F0,
    0x7C0,
    0x966,
    0x9E6,
    0xA66,
    0xAE6,
    0xB66,
    0xBE6,
    0xC66,
    0xCE6,
    0xD66,
    0xE50,
    0xED0,
    0xF20,
    0x1040,
    0x17E0,
    0x1810,
    0xFF10,
)
_DIGITS = {zero + i: str(i) for zero in _DIGIT_ZEROS for i in range(10)} | {
    0x66B: ".",
    0x66C: ",",
    0x66A: "%",  # Arabic decimal and thousands separators, percent
}
_TIME = re.compile(r"\b\d{1,2}[:h]\d{2}\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DOTTED_DATE = re.compile(r"\b(\d{1,2})([./])(\d{1,2})\2(\d{4})\b")
# The year is optional: "11月6日", "10월 6일" name a day of the current year.
_CJK_DATE = re.compile(r"(?:(\d{4})\s*[年년]\s*)?(\d{1,2})\s*[月월](?:\s*(\d{1,2})\s*[日일])?")
_NUMBER_SPAN = re.compile(r"\d+(?:[,.'\u00a0\u202f\u2009 ]\d+)*")
_TOKEN = re.compile(r"\d+|[^\W\d_]+")
# Letters, and the vowel signs of Indic and Southeast Asian scripts, which
# are marks (not word characters) but belong inside a word.
_NAME_TOKEN = re.compile(
    r"(?:[^\W\d_]|[\u0900-\u0963\u0971-\u0dff\u0e31-\u0e4e\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff])+"
)
_UNSPACED_SCALE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_SENTENCE_END = frozenset('.!?…:;"«»“”„()[]–—-•')
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fc]+")
_HEBREW = re.compile(r"[\u0590-\u05ff]")
_CYRILLIC_ENDINGS = (
    "ого",
    "его",
    "ому",
    "ему",
    "ыми",
    "ими",
    "ами",
    "ями",
    "ом",
    "ем",
    "ам",
    "ям",
    "ах",
    "ях",
    "ых",
    "их",
    "ым",
    "им",
)
_ARABIC_PROCLITICS = ("و", "ب", "ل", "ف", "ك")
_SKELETON_DIGRAPHS = (
    ("kh", "k"),
    ("sh", "s"),
    ("ch", "k"),
    ("zh", "j"),
    ("ph", "b"),
    ("th", "t"),
    ("dh", "d"),
    ("gh", "g"),
    ("ts", "s"),
)
_SKELETON_LETTERS = str.maketrans(
    {
        "q": "k",
        "c": "k",
        "x": "ks",
        "z": "s",
        "f": "b",
        "v": "b",
        "p": "b",
        "w": None,
        "y": None,
        "h": None,
        "a": None,
        "e": None,
        "i": None,
        "o": None,
        "u": None,
    }
)
_NON_LETTER = re.compile(r"[^a-z]")
_REPEAT = re.compile(r"(.)\1+")
# Words of at least this many letters, at most this many distinct skeletons.
LEXICAL_MIN_LETTERS = 5
LEXICAL_WORDS = 200
# Tag kinds whose ids come from a gazetteer and so read the same in every
# language; keywords, acronyms and guessed person ids do not.
ENTITY_KINDS = frozenset(
    {"country", "org", "organisation", "organization", "place", "city", "region", "location"}
)


@dataclass
class Evidence:
    """What a document says that a translation keeps, with positions."""

    positions: dict[str, float] = field(default_factory=dict)
    surfaces: dict[str, str] = field(default_factory=dict)
    name_counts: Counter[str] = field(default_factory=Counter)
    paragraph_starts: list[float] = field(default_factory=list)
    cased: bool = True
    lexical: list[str] = field(default_factory=list)

    def add(self, key: str, position: float) -> None:
        if key not in self.positions:
            self.positions[key] = round(position, 3)


@functools.lru_cache(maxsize=1 << 16)
def evidence_weight(key: str) -> float:
    """Return how much one shared evidence key says about two documents.

    Rarer kinds weigh more: a day of a month or a five-digit number more than
    a year; a long name skeleton more than a short one.
    """
    kind, _, value = key.partition(":")
    if kind == "n":
        if "." in value:
            return 2.5
        number = int(value) if value.isdigit() else 0
        if 1900 <= number <= 2100 or number < 100:
            return 1.0
        return 2.0 if number < 1000 else 3.0
    if kind == "d":
        return 3.0
    if kind == "m":
        return 1.5
    if kind == "s":
        return 1.0 if len(value) < 4 else 2.0
    if kind == "t":
        tag_kind = value.split(":", 1)[0]
        if tag_kind == "country":
            return 1.0
        return 3.0 if tag_kind.startswith("org") else 2.0
    return 1.0


def skeleton(word: str) -> str:
    """Return the Latin consonant skeleton of a word, at most 4 letters.

    Transliterates any script (anyascii), drops vowels and weak letters and
    merges letters that transliterations confuse, so 'Tokayev', 'Токаев',
    'Тоқаев' and 'توكاييف' share 'tkf'. Cutting at 4 absorbs inflection.
    """
    return _skeleton(word)


@functools.lru_cache(maxsize=65536)
def _skeleton(word: str) -> str:
    lower = word.lower()
    if _CYRILLIC.match(lower):
        # Case endings that add a consonant ('Катаром', 'Хабаровского');
        # not -ов/-ев, which end surnames in every case.
        for ending in _CYRILLIC_ENDINGS:
            if lower.endswith(ending) and len(lower) - len(ending) >= 3:
                lower = lower[: -len(ending)]
                break
    # Anusvara is a nasal sound, written 'm' by anyascii; before t, d or k
    # it is an 'n' (इंटरनेट internet).
    lower = lower.replace("\u0902", "\u0928")
    if _HEBREW.match(lower):
        # Vav is mostly a vowel letter (and the prefix 'and'), not /v/.
        lower = lower.replace("\u05d5", "")
    # Lower-case after transliterating: anyascii writes Hangul and Han
    # syllables capitalised ('PuTin').
    text = _NON_LETTER.sub("", anyascii(lower).lower())
    for digraph, letter in _SKELETON_DIGRAPHS:
        text = text.replace(digraph, letter)
    return _REPEAT.sub(r"\1", text.translate(_SKELETON_LETTERS))[:4]


def _fold(text: str) -> str:
    return matching_form(text).translate(_DIGITS)


def _unmark(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", kept)


def _extract_evidence(paragraphs: list[str], tags: Sequence[Tag], lexicon: Lexicon) -> Evidence:
    evidence = Evidence()
    folded = [_fold(p) for p in paragraphs]
    total = max(1, sum(len(p) + 2 for p in folded))
    offset = 0
    cased_words = caseless_words = 0
    capitalized: Counter[str] = Counter()
    lowercase: set[str] = set()
    caseless: Counter[str] = Counter()
    lexical: dict[str, None] = {}
    first_seen: dict[str, float] = {}
    surfaces: dict[str, str] = {}
    for index, (raw, text) in enumerate(zip(paragraphs, folded, strict=True)):
        evidence.paragraph_starts.append(round(offset / total, 3))
        scale = max(1, len(text))
        base = offset / total
        span = len(text) / total

        def at(char: int, base: float = base, span: float = span, scale: int = scale) -> float:
            return base + span * char / scale

        text = _TIME.sub(lambda m: " " * len(m.group()), text)
        text = _extract_numeric_dates(text, evidence, at)
        consumed = _extract_month_dates(text, lexicon, evidence, at)
        _extract_numbers(text, consumed, lexicon, evidence, at)

        unmarked = _unmark(raw)
        for match in _NAME_TOKEN.finditer(unmarked):
            if _UNSPACED.search(match.group()):
                # A run of Han, kana or Thai is a phrase, not a word; only its
                # katakana runs (foreign names, loanwords) transliterate.
                words = [
                    (m.group(), match.start() + m.start())
                    for m in _KATAKANA.finditer(match.group())
                ]
            else:
                words = [(match.group(), match.start())]
            for word, start in words:
                position = at(start * scale // max(1, len(unmarked)))
                _add_lexical(word, lexical)
                if word.lower() != word.upper():
                    cased_words += 1
                    lower = word.casefold()
                    if word[0].islower():
                        lowercase.add(lower)
                        continue
                    initial = index == 0 or _starts_sentence(unmarked, start)
                    if not initial or (len(word) > 1 and word.isupper()):
                        capitalized[word] += 1
                        first_seen.setdefault(word, position)
                    continue
                caseless_words += 1
                for variant in _caseless_variants(word):
                    caseless[variant] += 1
                    first_seen.setdefault(variant, position)
        offset += len(text) + 2

    evidence.cased = cased_words >= caseless_words
    evidence.lexical = list(lexical)[:LEXICAL_WORDS]
    names: Counter[str] = Counter()
    if evidence.cased:
        for word, count in capitalized.items():
            if word.casefold() in lowercase:
                continue
            key = skeleton(word)
            if len(key) >= 3:
                names[key] += count
                surfaces.setdefault(key, word)
                evidence.add("s:" + key, first_seen[word])
    else:
        for word, count in caseless.items():
            key = skeleton(word)
            if len(key) >= 3:
                names[key] += count
                evidence.add("s:" + key, first_seen[word])
    evidence.name_counts = names
    evidence.surfaces = {k: surfaces[k] for k in sorted(surfaces)}
    for tag_ in tags:
        if tag_.kind in ENTITY_KINDS and ":" in tag_.id:
            evidence.add("t:" + tag_.id, -1.0)
    return evidence


def _add_lexical(word: str, lexical: dict[str, None]) -> None:
    if len(lexical) >= LEXICAL_WORDS:
        return
    key = _lexical_key(word)
    if key:
        lexical.setdefault(key, None)


@functools.lru_cache(maxsize=65536)
def _lexical_key(word: str) -> str:
    if _ARABIC.match(word):
        *_, word = _caseless_variants(word)
    # Letters counted in Latin: a Hangul syllable or an unvoweled Arabic word
    # is short in its script only.
    if len(anyascii(word)) < LEXICAL_MIN_LETTERS:
        return ""
    key = _skeleton(word)
    return key if len(key) >= 3 else ""


def _starts_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in _SENTENCE_END


def _caseless_variants(word: str) -> Iterator[str]:
    yield word
    if _ARABIC.match(word) and len(word) > 4:
        if word.startswith("ال"):
            yield word[2:]
        elif word.startswith(_ARABIC_PROCLITICS):
            yield word[1:]
            if word[1:].startswith("ال"):
                yield word[3:]


def _extract_numeric_dates(text: str, evidence: Evidence, at: Any) -> str:
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


def _extract_month_dates(text: str, lexicon: Lexicon, evidence: Evidence, at: Any) -> set[int]:
    tokens = list(_TOKEN.finditer(text))
    consumed: set[int] = set()
    i = 0
    while i < len(tokens):
        month, used = _month_of(tokens, i, lexicon)
        if not month:
            i += 1
            continue
        day_index = _near_number(tokens, i - 1, -1, 1, 31, lexicon)
        if day_index is None:
            day_index = _near_number(tokens, i + used, 1, 1, 31, lexicon)
        year_index = _near_number(tokens, i + used, 1, 1800, 2200, lexicon, skip=day_index)
        if year_index is None and day_index is not None and day_index < i:
            year_index = _near_number(tokens, day_index - 1, -1, 1800, 2200, lexicon)
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
    low: int,
    high: int,
    lexicon: Lexicon,
    skip: int | None = None,
) -> int | None:
    """Return the index of a number in [low, high] near start, past fillers."""
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
    text: str, consumed: set[int], lexicon: Lexicon, evidence: Evidence, at: Any
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


def _evidence_keys(evidence: Evidence, settings: FingerprintSettings) -> list[str]:
    keys: list[str] = []
    numbers = sorted(
        (k[2:] for k in evidence.positions if k.startswith("n:")),
        key=lambda v: (-evidence_weight("n:" + v), v),
    )[: settings.key_numbers]
    specific = [n for n in numbers if evidence_weight("n:" + n) >= 2.0]
    if len(numbers) >= 3:
        for triple in itertools.combinations(sorted(numbers), 3):
            keys.append("n3:" + "|".join(triple))
    elif len(specific) == 2:
        keys.append("n2:" + "|".join(sorted(specific)))
    days = sorted(k[2:] for k in evidence.positions if k.startswith("d:"))[:3]
    for day in days:
        for number in specific[:4]:
            keys.append(f"ev:{day}|{number}")
    for number in specific:
        keys.append("n1:" + number)
    names = sorted(evidence.name_counts, key=lambda k: (-evidence.name_counts[k], -len(k), k))[
        : settings.key_names
    ]
    words = [w for w in evidence.lexical if len(w) == 4][: settings.key_words]
    for word in dict.fromkeys([*(names if evidence.cased else []), *words]):
        keys.append("w:" + word)
    if evidence.cased:
        for pair in itertools.combinations(sorted(names), 2):
            keys.append("nm:" + "|".join(pair))
        for name in names[:3]:
            for number in numbers[:3]:
                keys.append(f"nn:{name}|{number}")
    tags = sorted(k[2:] for k in evidence.positions if k.startswith("t:"))
    tags = sorted(tags, key=lambda t: (-evidence_weight("t:" + t), t))[: settings.key_tags]
    for pair in itertools.combinations(sorted(tags), 2):
        if not all(t.startswith("country:") for t in pair):
            keys.append("tg:" + "|".join(pair))
    return keys


def length_factor(language: str, lexicon: Lexicon | None = None) -> float:
    """Return the typical length of the language's text relative to English."""
    lexicon = lexicon or load_lexicon()
    return lexicon.length_factor.get(language.split("-", maxsplit=1)[0].lower(), 1.0)
