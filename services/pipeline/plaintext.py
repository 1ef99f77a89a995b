"""Reduce short fields that may carry markup (titles, bylines) to plain text."""

from __future__ import annotations

import html
import re

import nh3

SPACES = re.compile(r"\s+")
# Entity-escaped markup unescapes to markup; a few rounds reach plain text.
ROUNDS = 4


def plain_text(value: str | None) -> str | None:
    """Return the value with every tag, comment and script removed, entities decoded.

    Idempotent: plain_text(plain_text(x)) == plain_text(x). None or a value
    left empty gives None.
    """
    if value is None:
        return None
    text = value
    for _ in range(ROUNDS):
        if "<" not in text and "&" not in text:
            break
        cleaned = html.unescape(nh3.clean(text, tags=set()))
        if cleaned == text:
            break
        text = cleaned
    else:
        # Still unescaping to new markup after the rounds: drop what escapes.
        text = text.replace("<", " ").replace(">", " ").replace("&", " ")
    text = SPACES.sub(" ", text).strip()
    return text or None
