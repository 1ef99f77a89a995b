"""Feed items: what one entry shows, read with a constant number of queries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from schemas.feed import FeedItem
from services.feeds.cursor import encode_cursor
from services.storage import feed
from services.storage.feed import Filter, Page


def make_filter(query: Mapping[str, Any]) -> Filter:
    """Build a filter from validated feed parameters (`FeedFilters`).

    `lang` and each `tag` value may hold several comma-separated values
    (any of them); repeated `tag` parameters must all match.
    """
    languages = [part for value in query.get("lang") or () for part in _split(value)]
    tags = [tuple(_split(value)) for value in query.get("tag") or ()]
    q = (query.get("q") or "").strip() or None
    return Filter(
        view=query.get("view") or feed.STORIES,
        languages=tuple(dict.fromkeys(languages)),
        sources=tuple(dict.fromkeys(query.get("source") or ())),
        tags=tuple(group for group in tags if group),
        since=query.get("since"),
        until=query.get("until"),
        q=q,
        quality=query.get("quality") or feed.ARTICLE,
    )


def filter_params(flt: Filter) -> dict[str, Any]:
    """Return the feed parameters that select the same items (inverse of make_filter)."""
    params: dict[str, Any] = {"view": flt.view}
    if flt.languages:
        params["lang"] = [",".join(flt.languages)]
    if flt.sources:
        params["source"] = list(flt.sources)
    if flt.tags:
        params["tag"] = [",".join(group) for group in flt.tags]
    if flt.since:
        params["since"] = flt.since
    if flt.until:
        params["until"] = flt.until
    if flt.q:
        params["q"] = flt.q
    if flt.quality != feed.ARTICLE:
        params["quality"] = flt.quality
    return params


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def summary(text: str | None) -> str | None:
    """Return the first paragraph of a normalized text."""
    return text.split("\n\n", 1)[0] if text else None


def build(page: Page) -> list[dict[str, Any]]:
    """Return the items of a loaded page, in feed order."""
    items = []
    for entry in page.entries:
        shown = page.document(entry)
        items.append(
            {
                "cursor": encode_cursor(entry.seq),
                "story_id": entry.story_id,
                "revision": entry.story_revision,
                "document_id": shown.id,
                "relation": shown.relation,
                "title": shown.title,
                "summary": summary(shown.text),
                "language": shown.language,
                "source": shown.source,
                "url": shown.url,
                "published_at": shown.published_at,
                "processed_at": shown.processed_at,
                "updated_at": entry.created_at,
                "tags": [tag["id"] for tag in shown.tags or []],
                "translations": [
                    {"document_id": document_id, "language": language, "title": title}
                    for document_id, language, title in page.translations.get(entry.story_id, [])
                ],
                "duplicates": page.duplicates.get(entry.story_id, 0),
                "related_count": page.related.get(entry.story_id, 0),
                "quality": shown.quality,
                "link": f"/v1/stories/{entry.story_id}",
            }
        )
    return items


def read(session: Session, flt: Filter, *, after: int, limit: int) -> dict[str, Any]:
    """Return a page of items after the position `after`, and the cursor to go on from.

    Five queries whatever the page size. `next_cursor` is the last item's
    cursor, or `after` again when nothing new matched.
    """
    entries = feed.entries(session, flt, after=after, limit=limit)
    items = build(feed.load(session, entries, flt.view))
    if items:
        next_cursor: str | None = items[-1]["cursor"]
    else:
        next_cursor = encode_cursor(after) if after else None
    return {"items": items, "next_cursor": next_cursor}


def dump(item: dict[str, Any]) -> dict[str, Any]:
    """Return the item as JSON-safe data, exactly as GET /v1/feed shows it."""
    data: dict[str, Any] = FeedItem().dump(item)
    return data
