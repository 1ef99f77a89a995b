"""Dump the feed as JSON Lines: `python -m services export --since 2024-01-01 > feed.jsonl`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from marshmallow import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from schemas.feed import FeedFilters
from services.feeds import items
from services.feeds.cursor import decode_cursor
from services.storage import feed
from services.storage.db import make_engine, make_sessionmaker
from services.storage.feed import Filter

BATCH = 500


def write_jsonl(
    sessions: sessionmaker[Session], flt: Filter, out: TextIO, *, after: int = 0
) -> int:
    """Write every matching item after `after` as one JSON object per line; return the count.

    Reads in pages of short transactions, so a long export blocks no writer;
    each line carries its `cursor`, to resume an interrupted export with `--after`.
    """
    written = 0
    while True:
        with sessions() as session:
            found = feed.entries(session, flt, after=after, limit=BATCH)
            page = items.build(feed.load(session, found, flt.view))
        for item in page:
            out.write(json.dumps(items.dump(item), ensure_ascii=False) + "\n")
        written += len(page)
        if len(found) < BATCH:
            return written
        after = found[-1].seq


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the export command's options: the feed's filters and a start cursor."""
    parser.add_argument("--since", help="published at or after (ISO 8601 date or time)")
    parser.add_argument("--until", help="published before (ISO 8601 date or time)")
    parser.add_argument("--lang", action="append", help="language; repeat or comma-separate")
    parser.add_argument("--tag", action="append", help="tag id; commas OR, repeats AND")
    parser.add_argument("--source", action="append", help="source; repeat for several")
    parser.add_argument("--q", help="words that all occur in the title or text")
    parser.add_argument("--view", choices=("stories", "documents"), default="stories")
    parser.add_argument("--after", help="start after this feed cursor")


def run(args: argparse.Namespace, database_url: str, out: TextIO) -> int:
    """Validate the options like the feed's query string, then write the export.

    Returns the exit status: 2 with a message on stderr for invalid options.
    """
    given = {
        name: value
        for name in ("since", "until", "lang", "tag", "source", "q", "view")
        if (value := getattr(args, name)) is not None
    }
    try:
        query = FeedFilters().load(given)
        after = decode_cursor(args.after) if args.after else 0
    except ValidationError as error:
        print(f"invalid options: {error.messages}", file=sys.stderr)
        return 2
    except ValueError:
        print("invalid options: --after is not a feed cursor", file=sys.stderr)
        return 2
    engine = make_engine(database_url)
    try:
        count = write_jsonl(make_sessionmaker(engine), items.make_filter(query), out, after=after)
    finally:
        engine.dispose()
    print(f"exported {count} items", file=sys.stderr)
    return 0
