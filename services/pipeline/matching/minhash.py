"""MinHash signatures of word shingles: the Jaccard estimate of near duplicates.

The permutations are datasketch's "legacy" MinHash parameters (a test checks
the signatures against datasketch); the hashing runs vectorised in numpy.
"""

from __future__ import annotations

import base64
import functools
import re
import zlib

import numpy as np

from services.pipeline.matching.settings import FingerprintSettings

_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)
_WORD = re.compile(r"\w+")
UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def shingle_hashes(matching_text: str, size: int, *, ordered: bool = False) -> np.ndarray:
    """Return the distinct 32-bit hashes of the text's word shingles, sorted.

    With `ordered`, every shingle's hash in text order instead. Scripts
    written without spaces (Chinese, Japanese, Thai) count each character
    as a word. Deterministic across processes (CRC-32 based).
    """
    tokens: list[str] = []
    for word in _WORD.findall(matching_text):
        if UNSPACED.search(word):
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
    return mixed & _MAX_HASH if ordered else np.unique(mixed & _MAX_HASH)


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


def encode_signature(signature: np.ndarray) -> str:
    """Return the signature as stored in fingerprint data (base64 of little-endian u32)."""
    return base64.b64encode(signature.astype("<u4").tobytes()).decode("ascii")


def decode_signature(encoded: str) -> np.ndarray:
    """Return the signature stored by `fingerprint` (empty for none)."""
    if not encoded:
        return np.zeros(0, dtype="<u4")
    return np.frombuffer(base64.b64decode(encoded), dtype="<u4")
