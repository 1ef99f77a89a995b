"""GET /v1/feed (JSON, JSON Feed, Atom) and /v1/tags: the processed feed, filtered and paged.

Every variant takes the same filters and the same opaque cursor.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, json, request
from flask.views import MethodView
from marshmallow import RAISE

from schemas.feed import FeedPage, FeedQuery, TagList, TagsQuery
from services.api import resources
from services.api.body import Blueprint
from services.api.problems import abort
from services.feeds import formats, items
from services.feeds.cursor import decode_cursor, encode_cursor
from services.storage import feed

__all__ = ["bp", "decode_cursor", "encode_cursor", "position"]

bp = Blueprint("feed", __name__, url_prefix="/v1", description="Read the processed feed.")

FEED_TITLE = "Multilingual news"
JSON_FEED_TYPE = "application/feed+json"
ATOM_TYPE = "application/atom+xml"


def position(cursor: str | None, field: str = "query.after") -> int:
    """Return the feed position of a client's cursor; 400 naming `field` if it is not one."""
    if not cursor:
        return 0
    try:
        return decode_cursor(cursor)
    except ValueError:
        abort(400, "The cursor is not valid.", [{"field": field, "message": "Not a feed cursor."}])


def _page(query: dict[str, Any]) -> dict[str, Any]:
    after = position(query.get("after"))
    return items.read(
        resources.session(), items.make_filter(query), after=after, limit=query["limit"]
    )


def _next_url(page: dict[str, Any]) -> str | None:
    if not page["items"]:
        return None
    args = request.args.copy()
    args["after"] = page["next_cursor"]
    return f"{request.base_url}?{urlencode(list(args.items(multi=True)))}"


def _conditional(response: Response) -> Response:
    response.add_etag()
    response.make_conditional(request)
    return response


@bp.route("/feed")
class Feed(MethodView):
    @bp.etag
    @bp.arguments(FeedQuery, location="query", unknown=RAISE, error_status_code=400)
    @bp.response(200, FeedPage)
    def get(self, query: dict[str, Any]) -> Any:
        """Return matching items after the cursor, oldest first.

        Stable under concurrent writes: an item never appears before one that
        precedes it, so a consumer resuming from `next_cursor` misses nothing
        and sees nothing twice. Filters combine with AND.
        """
        return _page(query)


@bp.route("/feed.json")
class JsonFeed(MethodView):
    @bp.arguments(FeedQuery, location="query", unknown=RAISE, error_status_code=400)
    @bp.response(200, description="A JSON Feed 1.1 document.", content_type=JSON_FEED_TYPE)
    def get(self, query: dict[str, Any]) -> Any:
        """Return the feed as JSON Feed 1.1; `next_url` pages on."""
        page = _page(query)
        body = formats.json_feed(
            [items.dump(item) for item in page["items"]],
            view=query["view"],
            title=FEED_TITLE,
            base_url=request.url_root,
            feed_url=request.url,
            next_url=_next_url(page),
        )
        return _conditional(Response(json.dumps(body), mimetype=JSON_FEED_TYPE))


@bp.route("/feed.atom")
class AtomFeed(MethodView):
    @bp.arguments(FeedQuery, location="query", unknown=RAISE, error_status_code=400)
    @bp.response(200, description="An Atom 1.0 document.", content_type=ATOM_TYPE)
    def get(self, query: dict[str, Any]) -> Any:
        """Return the feed as Atom 1.0; `<link rel="next">` pages on (RFC 5005)."""
        page = _page(query)
        dumped = [items.dump(item) for item in page["items"]]
        updated = max(
            (item["updated_at"] for item in dumped if item.get("updated_at")), default=None
        )
        body = formats.atom(
            dumped,
            view=query["view"],
            title=FEED_TITLE,
            feed_id=f"{request.url_root}v1/feed.atom",
            links=formats.Links(request.url_root, request.url, _next_url(page)),
            updated=updated or "1970-01-01T00:00:00+00:00",
        )
        return _conditional(Response(body, mimetype=ATOM_TYPE))


@bp.route("/tags")
class Tags(MethodView):
    @bp.etag
    @bp.arguments(TagsQuery, location="query", unknown=RAISE, error_status_code=400)
    @bp.response(200, TagList)
    def get(self, query: dict[str, Any]) -> Any:
        """Return the most used tags (optionally of one kind) with document counts and labels."""
        rows = feed.tag_counts(resources.session(), query.get("kind"), query["limit"])
        return {
            "tags": [
                {"id": tag_id, "documents": count, "label": label} for tag_id, count, label in rows
            ]
        }
