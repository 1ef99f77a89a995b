"""Repair text: line breaks, controls, mojibake, invisible characters, entities, quotes, spaces."""

from __future__ import annotations

import html
import re
import unicodedata

import ftfy
from ftfy.chardata import UTF8_CLUES, UTF8_DETECTOR_RE

_LINE_BREAK = re.compile("[\r\v\f\x85\u2028\u2029]")
# C0 controls but tab and newline, and lone surrogates (which cannot be encoded);
# C1 controls go after ftfy, which reads them as the bytes of Latin-1 mojibake.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_C1_CONTROL = re.compile("[\x80-\x9f]")
# Format characters (Unicode category Cf): bidi controls, zero-width space, BOM,
# soft hyphen, tags. ZWNJ and ZWJ (U+200C, U+200D) stay: Persian spelling and
# emoji sequences need them.
_INVISIBLE = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200e\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f]"
)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_SINGLE_QUOTE = re.compile("[\u2018-\u201b]")
_DOUBLE_QUOTE = re.compile("[\u201c-\u201f]")
# Tabs, no-break and other Unicode spaces; then runs of spaces and spaces at line edges.
_ODD_SPACE = re.compile(r"[^\S \n]")
_SPACE_RUN = re.compile(r"  +")
_SPACE_EDGE = re.compile(r" +\n *|\n +")
# Mojibake starts with a character that a UTF-8 lead byte decodes to; without
# one, ftfy's slower detector need not run (docs/performance.md).
_MOJIBAKE_LEAD = re.compile(
    "[{utf8_first_of_2}{utf8_first_of_3}{utf8_first_of_4}]".format(**UTF8_CLUES)
)
_FTFY = ftfy.TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    explain=False,
)


def repair(text: str) -> str:
    """Return the text repaired to a fixed point; stripped of edge white space."""
    # Each step can uncover work for another (an entity decoding to a control
    # character, mojibake hidden by a zero-width space): repeat to a fixed point.
    for _ in range(4):
        repaired = _repair_once(text)
        if repaired == text:
            break
        text = repaired
    return text


def _repair_once(text: str) -> str:
    text = _CONTROL.sub("", _LINE_BREAK.sub("\n", text.replace("\r\n", "\n")))
    if _MOJIBAKE_LEAD.search(text) and UTF8_DETECTOR_RE.search(text):
        # ftfy is slow per byte: run it only on lines that look like mojibake.
        text = "\n".join(
            ftfy.fix_text(line, _FTFY) if UTF8_DETECTOR_RE.search(line) else line
            for line in text.split("\n")
        )
    text = _INVISIBLE.sub("", _C1_CONTROL.sub("", text))
    text = _ENTITY.sub(lambda m: html.unescape(m.group()), text)
    text = unicodedata.normalize("NFC", text)
    text = _DOUBLE_QUOTE.sub('"', _SINGLE_QUOTE.sub("'", text))
    return collapse_spaces(text).strip()


def collapse_spaces(text: str) -> str:
    """Return the text with odd spaces as spaces, runs of spaces as one, lines unpadded."""
    return _SPACE_EDGE.sub("\n", _SPACE_RUN.sub(" ", _ODD_SPACE.sub(" ", text)))


def drop_controls(text: str) -> str:
    """Return the text without control and invisible format characters."""
    return _INVISIBLE.sub("", _C1_CONTROL.sub("", _CONTROL.sub("", text)))
