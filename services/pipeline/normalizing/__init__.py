"""The normalization stage's parts; `services/pipeline/normalize.py` is its entry point.

- `rules.py`: the rules of ``../rules/*.toml``, compiled.
- `dates.py`: dates in a line of text.
- `html.py`: an HTML page's main text and metadata.

Text repair and the matching form are the shared text layer's (`../text/`).
"""
