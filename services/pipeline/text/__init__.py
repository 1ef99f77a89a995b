"""The one text layer every stage shares: scripts, folding, digits, stems, name keys.

- `scripts.py`: which script a word is written in.
- `repair.py`: text repair (mojibake, controls, invisible characters, spaces).
- `fold.py`: `matching_form`, the per-character fold with a map back to the
  original offsets, and digits of every script as ASCII.
- `stems.py`: light stemming per script (Latin plural, Cyrillic endings,
  Arabic article and clitics), the same for gazetteer terms and text.
- `skeleton.py`: THE name key. A person's tag id and a document's match keys
  are both built from `skeleton`, so a name gets one key everywhere. Per-script
  repairs sit in one table there; a new script gets one function in it.

Pure functions only, like the rest of the pipeline.
"""
