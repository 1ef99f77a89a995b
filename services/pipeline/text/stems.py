"""Light stemming per script, applied the same way to gazetteer terms and to text.

Latin words lose a plural -s (-ies becomes -y); Cyrillic words lose one
inflectional ending from a closed list (казахстанский, Казахстана ->
казахстан); Arabic words lose the article ال, and text words are also tried
without the proclitics و ف ب ل ك (and لل) and without the nisba endings
ي/ية/يين/يون, so الكازاخستانية and بمصر find كازاخستان and مصر.
"""

from __future__ import annotations

import functools

from services.pipeline.text.fold import matching_form
from services.pipeline.text.scripts import ARABIC, CYRILLIC, LATIN, script_of

_CYRILLIC_ENDING_WORDS = (
    "ского скому ским ском ская ской скую ские ских скими ский ское "
    "ами ями ого его ому ему ими ыми ой ей ий ый ая яя ое ее ые ие ых их "
    "ым им ом ем ам ям ах ях ию ия ии ью ья ье а я о е у ю ы и ь"
)
_CYRILLIC_ENDINGS = tuple(
    sorted({matching_form(e) for e in _CYRILLIC_ENDING_WORDS.split()}, key=len, reverse=True)
)
ARABIC_ARTICLE_CLITICS = ("بال", "وال", "فال", "كال", "لل", "وبال", "ولل")
_ARABIC_CLITICS = ("ولل", "فلل", "لل", "وب", "ول", "وك", "فب", "فل", "و", "ف", "ب", "ل", "ك")


def stem_latin(form: str) -> str:
    """Return a folded Latin word without its plural ending (-isation as -ization)."""
    if form.endswith("isation"):
        form = form[:-7] + "ization"
    elif form.endswith("isations"):
        form = form[:-8] + "izations"
    if len(form) > 4 and form.endswith("ies"):
        return form[:-3] + "y"
    if len(form) > 3 and form.endswith("s") and not form.endswith(("ss", "us", "is")):
        return form[:-1]
    return form


def stem_cyrillic(form: str) -> str:
    """Return a folded Cyrillic word without one inflectional ending, keeping 3 letters."""
    for ending in _CYRILLIC_ENDINGS:
        if form.endswith(ending) and len(form) - len(ending) >= 3:
            return form[: -len(ending)]
    return form


def arabic_base(form: str) -> str:
    """Return a folded Arabic word without the article ال (words of 5+ letters)."""
    return form[2:] if form.startswith("ال") and len(form) >= 5 else form


_STEMMERS = {LATIN: stem_latin, CYRILLIC: stem_cyrillic, ARABIC: arabic_base}


def term_key(form: str) -> str:
    """Return the key a folded gazetteer term's token is stored under."""
    stem = _STEMMERS.get(script_of(form))
    return stem(form) if stem else form


@functools.lru_cache(maxsize=65536)
def variants(form: str, *, plain: bool = False) -> tuple[str, ...]:
    """Return the keys a folded text token may match; plain: without nisba endings."""
    if script_of(form) != ARABIC:
        return (term_key(form),)
    bases = [form] + [
        form[len(p) :] for p in _ARABIC_CLITICS if form.startswith(p) and len(form) - len(p) >= 3
    ]
    found: list[str] = []
    for base in bases:
        forms = [arabic_base(base)]
        if not plain:
            forms += _nisba_stems(forms[0])
        found += [w for w in forms if w not in found]
    return tuple(found)


def _nisba_stems(word: str) -> list[str]:
    forms = [word]
    if word.endswith("يه") and len(word) >= 5:
        forms.append(word[:-1])
    if word.endswith(("يين", "يون")) and len(word) >= 6:
        forms.append(word[:-2])
    forms += [w[:-1] for w in list(forms) if w.endswith("ي") and len(w) >= 5]
    return forms[1:]
