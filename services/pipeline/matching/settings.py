"""How fingerprints are computed: one frozen dataclass every matching module reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FingerprintSettings:
    """How fingerprints are computed; stored keys depend on every field."""

    num_perm: int = 128
    shingle_size: int = 3
    seed: int = 1
    key_numbers: int = 6
    key_names: int = 5
    key_tags: int = 5
    key_words: int = 20
