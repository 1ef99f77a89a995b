"""The fingerprinting and comparison parts; `fingerprint.py` and `dedup.py` are the entry points.

- `settings.py`: `FingerprintSettings`.
- `minhash.py`: word shingles and MinHash signatures.
- `lexicon.py`: month names, number scales and text lengths (the JSON files here).
- `facts.py`: dates and numbers; `evidence.py`: what a translation keeps.
- `keys.py`: the keys the storage indexes a document under.
- `score.py`: comparing two documents' data (near-duplicate and translation figures).

Names become keys in `text/skeleton.py`, shared with tagging.
"""
