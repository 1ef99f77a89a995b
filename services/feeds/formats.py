"""JSON Feed 1.1 and Atom 1.0 renderings of feed items.

Text only: titles, summaries and tags go out as plain text (JSON strings,
XML text nodes escaped by the serializer), characters XML cannot carry are
dropped, and only http(s) URLs are linked. Items are the JSON-safe dicts of
`items.dump`; `base_url` makes their links absolute.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
ATOM_NS = "http://www.w3.org/2005/Atom"
UNTITLED = "(untitled)"

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SAFE_URL = re.compile(r"^https?://[^\s<>\"]+$", re.IGNORECASE)


def clean(text: str | None) -> str | None:
    """Drop control characters and lone surrogates that XML 1.0 cannot carry."""
    return None if text is None else _NOT_XML.sub("", text)


def safe_url(url: str | None) -> str | None:
    """Return the URL if it is plain http(s), else None (no `javascript:` links)."""
    return url if url and _SAFE_URL.match(url) else None


def item_id(item: dict[str, Any], view: str) -> str:
    """Return the item's stable id: the story's (updates keep it) or the document's."""
    return str(item["story_id"] if view == "stories" else item["document_id"])


def json_feed(
    items: Iterable[dict[str, Any]],
    *,
    view: str,
    title: str,
    base_url: str,
    feed_url: str,
    next_url: str | None,
) -> dict[str, Any]:
    """Return a JSON Feed 1.1 document for the items."""
    body: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": base_url,
        "feed_url": feed_url,
        "items": [_json_item(item, view, base_url) for item in items],
    }
    if next_url:
        body["next_url"] = next_url
    return body


def _json_item(item: dict[str, Any], view: str, base_url: str) -> dict[str, Any]:
    text = clean(item.get("summary")) or ""
    entry: dict[str, Any] = {
        "id": item_id(item, view),
        "url": base_url.rstrip("/") + item["link"],
        "title": clean(item.get("title")) or UNTITLED,
        "content_text": text,
        "summary": text,
        "date_published": item.get("published_at") or item.get("processed_at"),
        "date_modified": item.get("updated_at"),
        "tags": [clean(tag) for tag in item.get("tags") or []],
        "_ingest": {
            "cursor": item["cursor"],
            "revision": item["revision"],
            "document_id": item["document_id"],
            "source": clean(item.get("source")),
            "translations": [
                {**t, "title": clean(t.get("title"))} for t in item.get("translations") or []
            ],
            "duplicates": item.get("duplicates", 0),
        },
    }
    if item.get("language"):
        entry["language"] = item["language"]
    if safe_url(item.get("url")):
        entry["external_url"] = item["url"]
    return {key: value for key, value in entry.items() if value is not None}


@dataclass(frozen=True)
class Links:
    """Where a feed page is: the site, the page itself, and the next page if any."""

    base_url: str
    self_url: str
    next_url: str | None = None


def atom(
    items: Iterable[dict[str, Any]],
    *,
    view: str,
    title: str,
    feed_id: str,
    links: Links,
    updated: str,
) -> bytes:
    """Return an Atom 1.0 document (RFC 4287) for the items, paged as RFC 5005."""
    base_url, self_url, next_url = links.base_url, links.self_url, links.next_url
    root = ElementTree.Element("feed", xmlns=ATOM_NS)
    _text(root, "id", feed_id)
    _text(root, "title", title)
    _text(root, "updated", updated)
    author = ElementTree.SubElement(root, _tag("author"))
    _text(author, "name", title)
    _link(root, "self", self_url, "application/atom+xml")
    _link(root, "alternate", base_url)
    if next_url:
        _link(root, "next", next_url, "application/atom+xml")
    for item in items:
        _atom_entry(root, item, view, base_url)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(
        root, encoding="utf-8", xml_declaration=False
    )


def _atom_entry(root: ElementTree.Element, item: dict[str, Any], view: str, base: str) -> None:
    entry = ElementTree.SubElement(root, _tag("entry"))
    _text(entry, "id", f"urn:uuid:{item_id(item, view)}")
    _text(entry, "title", clean(item.get("title")) or UNTITLED, type="text")
    updated = item.get("updated_at") or item.get("processed_at")
    _text(entry, "updated", str(updated))
    published = item.get("published_at")
    if published:
        _text(entry, "published", published)
    _link(entry, "alternate", base.rstrip("/") + item["link"])
    url = safe_url(item.get("url"))
    if url:
        _link(entry, "related", url)
    text = clean(item.get("summary")) or ""
    _text(entry, "summary", text, type="text")
    _text(entry, "content", text, type="text")
    for tag in item.get("tags") or []:
        ElementTree.SubElement(entry, _tag("category"), term=clean(tag) or "")
    if item.get("language"):
        entry.set("{http://www.w3.org/XML/1998/namespace}lang", item["language"])


def _tag(name: str) -> str:
    # Unqualified names under the root's xmlns: ElementTree cannot write a
    # default namespace next to unqualified attributes such as `href`.
    return name


def _text(parent: ElementTree.Element, name: str, value: str, **attributes: str) -> None:
    element = ElementTree.SubElement(parent, _tag(name), attributes)
    element.text = value


def _link(parent: ElementTree.Element, rel: str, href: str, kind: str | None = None) -> None:
    attributes = {"rel": rel, "href": href}
    if kind:
        attributes["type"] = kind
    ElementTree.SubElement(parent, _tag("link"), attributes)
