"""Opaque feed cursors: a feed position that clients pass back unchanged."""

from __future__ import annotations

import base64
import binascii

CURSOR_PREFIX = "feed:v1:"
MAX_POSITION = 2**63 - 1


def encode_cursor(seq: int) -> str:
    """Return the opaque cursor for a feed position."""
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Return the feed position of a cursor; ValueError if it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise ValueError("not a feed cursor") from error
    position = text[len(CURSOR_PREFIX) :]
    if not text.startswith(CURSOR_PREFIX) or not position.isascii() or not position.isdigit():
        raise ValueError("not a feed cursor")
    # Positions are 64-bit in the database; a larger number is not one of ours.
    if len(position) > len(str(MAX_POSITION)) or int(position) > MAX_POSITION:
        raise ValueError("not a feed cursor")
    return int(position)
