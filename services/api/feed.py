"""GET /v1/feed: the processed feed, paged by an opaque, stable cursor."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.feed import FeedPage, FeedQuery
from services.api import resources
from services.api.problems import abort
from services.storage import feed, stories
from services.storage.models import Document, FeedEntry

bp = Blueprint("feed", __name__, url_prefix="/v1", description="Read the processed feed.")

CURSOR_PREFIX = "feed:v1:"


def encode_cursor(seq: int) -> str:
    """Return the opaque cursor for a feed position."""
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Return the feed position of a cursor; ValueError if it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError("not a feed cursor") from error
    if not text.startswith(CURSOR_PREFIX) or not text[len(CURSOR_PREFIX) :].isdigit():
        raise ValueError("not a feed cursor")
    return int(text[len(CURSOR_PREFIX) :])


def _summary(text: str | None) -> str | None:
    return text.split("\n\n", 1)[0] if text else None


def _items(entries: list[FeedEntry], view: str) -> list[dict[str, Any]]:
    session = resources.session()
    members = stories.members(session, sorted({entry.story_id for entry in entries}))
    items = []
    for entry in entries:
        group = members[entry.story_id]
        by_id = {member.id: member for member in group}
        if view == feed.STORIES:
            shown = next((m for m in group if m.relation is None), by_id[entry.document_id])
        else:
            shown = by_id[entry.document_id]
        items.append(_item(entry, shown, group))
    return items


def _item(entry: FeedEntry, shown: Document, group: list[Document]) -> dict[str, Any]:
    return {
        "cursor": encode_cursor(entry.seq),
        "story_id": entry.story_id,
        "revision": entry.story_revision,
        "document_id": shown.id,
        "relation": shown.relation,
        "title": shown.title,
        "summary": _summary(shown.text),
        "language": shown.language,
        "source": shown.source,
        "url": shown.url,
        "published_at": shown.published_at,
        "processed_at": shown.processed_at,
        "tags": [tag["id"] for tag in shown.tags or []],
        "translations": [
            {"document_id": m.id, "language": m.language, "title": m.title}
            for m in group
            if m.relation == "translation"
        ],
        "duplicates": sum(m.relation in ("exact_duplicate", "near_duplicate") for m in group),
        "link": f"/v1/stories/{entry.story_id}",
    }


@bp.route("/feed")
class Feed(MethodView):
    @bp.etag
    @bp.arguments(FeedQuery, location="query", unknown=RAISE, error_status_code=400)
    @bp.response(200, FeedPage)
    def get(self, query: dict[str, Any]) -> Any:
        """Return processed items after the cursor, oldest first.

        Stable under concurrent writes: an item never appears before one that
        precedes it, so a consumer resuming from `next_cursor` misses nothing
        and sees nothing twice.
        """
        after = 0
        if "after" in query:
            try:
                after = decode_cursor(query["after"])
            except ValueError:
                abort(
                    400,
                    "The cursor is not valid.",
                    [{"field": "query.after", "message": "Not a feed cursor."}],
                )
        entries = feed.page(
            resources.session(), after=after, limit=query["limit"], view=query["view"]
        )
        items = _items(entries, query["view"])
        next_cursor = items[-1]["cursor"] if items else (query.get("after") or None)
        return {"items": items, "next_cursor": next_cursor}
