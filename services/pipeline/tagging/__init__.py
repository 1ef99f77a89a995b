"""The tagging stage's parts; `services/pipeline/tag.py` is its entry point.

- `tokens.py`: a text as folded, stemmed tokens with offsets into the original.
- `gazetteer.py`: loading and compiling the data in `../gazetteer/`.
- `match.py`: longest-match lookup of gazetteer terms.
- `people.py`: the rule-based recognizer of people's names.
- `keywords.py`: key phrases.
"""
