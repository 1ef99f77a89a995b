"""Compute what deduplication compares: hashes, MinHash and evidence (the entry point).

A fingerprint has three parts, all derived from the normalized document:

- `content_hash`: SHA-256 of the matching form of the body (exact duplicates).
- `data`: what `dedup.decide` compares, stored with the document (JSON,
  about 1.5 kB, and up to 1.4 kB of containment sketch, `cs` with its
  shingle count `nc`): a MinHash signature of word shingles (near duplicates) and
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
  ``cs:<hex>``          word 5-shingles chosen by their hash, the first 16
                        (`containment`): a cut or re-edited copy
  ====================  ==================================================

  Every key but ``cs:`` survives translation, and a document with any
  number or word of five letters has some (single keys make sure of it).
  A near duplicate shares the ``cs:`` keys and those of its facts; the
  MinHash signature measures it once found. At most 108 keys per document
  (20 + 6 + 12 + 25 + 10 + 9 + 10 + 16 = 108). A single key that many
  documents share costs nothing more: the lookup reads only its newest
  postings, and candidates sharing more keys rank first. Changing
  `FingerprintSettings`, the skeleton or `DATA_VERSION` changes the keys:
  stored documents must then be fingerprinted again.

Name and word skeletons are `text.skeleton.skeleton`, the same key a
person's tag id is made of. Where each part lives: `matching/minhash.py`
(shingles, MinHash), `matching/evidence.py` and
`matching/facts.py` (what a translation keeps), `matching/keys.py` (the
index keys), `matching/score.py` (comparing two documents' data, for
`dedup`), `containment.py` (the containment sketch and its ``cs:`` keys).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.pipeline import containment
from services.pipeline.matching.evidence import extract_evidence
from services.pipeline.matching.keys import evidence_keys
from services.pipeline.matching.lexicon import Lexicon, load_lexicon
from services.pipeline.matching.minhash import encode_signature, minhash
from services.pipeline.matching.score import Side
from services.pipeline.matching.settings import FingerprintSettings
from services.pipeline.normalize import Normalized
from services.pipeline.tag import Tag

# 4: l and r as one letter; Greek, kana and Hangul repairs of the skeleton.
# 5: kana keep their voicing marks; a hyphenated name's second word is a name.
# 6: Bengali and Urdu month names; Bengali, Urdu, Hindi and Ukrainian number words;
#    Greek ordinal days (6ης Οκτωβρίου).
# 7: no MinHash band keys (`lsh:`): the containment and fact keys found
#    every near duplicate the bands found (docs/performance.md).
DATA_VERSION = 7


@dataclass(frozen=True)
class Fingerprint:
    content_hash: str
    keys: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def side(self) -> Side:
        """The data prepared for comparisons, once: a stored document is a candidate of many."""
        return Side(self.data)


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
    evidence = extract_evidence(paragraphs, tags, lexicon, titled=bool(normalized.title))

    data: dict[str, Any] = {
        "v": DATA_VERSION,
        "lang": language,
        "mh": encode_signature(signature) if shingle_count else "",
        "ns": shingle_count,
        "len": len(normalized.text),
        "par": evidence.paragraph_starts,
        "cased": evidence.cased,
        "ev": evidence.positions,
        "sf": evidence.surfaces,
        "lx": " ".join(evidence.lexical),
    }
    bottom, contained_keys, data["nc"] = containment.sketch(normalized.matching_text)
    data["cs"] = containment.encode(bottom)

    keys = [*evidence_keys(evidence, settings), *contained_keys]
    return Fingerprint(content_hash=digest, keys=tuple(dict.fromkeys(keys)), data=data)
