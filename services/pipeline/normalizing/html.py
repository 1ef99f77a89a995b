"""Read an HTML page: its main text (trafilatura) and its metadata."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.pipeline.normalizing.dates import find_date, in_utc
from services.pipeline.normalizing.rules import Rules
from services.pipeline.text.fold import matching_form
from services.pipeline.text.repair import drop_controls


@dataclass(frozen=True)
class Page:
    """A page's main text and what its metadata says."""

    text: str
    title: str | None = None
    byline: str | None = None
    published_at: datetime | None = None
    source: str | None = None


_HTML_ROOT = re.compile(r"<(?:!doctype|html|head|body)\b", re.IGNORECASE)


def read_html(content: str, rules: Rules) -> Page:
    """Extract the main text of an HTML page with trafilatura, and its metadata."""
    # Imported here: trafilatura is slow to import and only HTML needs it.
    import trafilatura

    markup = drop_controls(content)
    if not _HTML_ROOT.search(markup[:4096]):
        # trafilatura rejects a bare fragment ("<p>x</p>"); give it a document.
        markup = f"<html><body>{markup}</body></html>"
    tree = trafilatura.load_html(markup)
    if tree is None:
        return Page("")
    meta = _page_meta(tree)
    site = _first(meta, rules.html_site)
    document = trafilatura.bare_extraction(
        tree,
        # Fast and precise: no second extractor, no recall retry; the chrome is
        # what this stage must lose. Its metadata search (author XPaths,
        # htmldate) costs more than the extraction: the meta tags are read here.
        fast=True,
        favor_precision=True,
        include_comments=False,
        include_images=False,
    )
    text: str | None = None
    if document is not None and not isinstance(document, dict):
        text = document.text
    if not text:
        text = trafilatura.html2txt(tree)
    moments = (_iso_time(meta.get(name), rules) for name in rules.date_meta)
    return Page(
        text=text or "",
        title=_first(meta, rules.html_title) or _title_element(meta.get("html:title"), site),
        byline=_first(meta, rules.html_author),
        published_at=next((m for m in moments if m is not None), None),
        source=site,
    )


def _page_meta(tree: Any) -> dict[str, str]:
    """Collect meta tags by name (casefolded), JSON-LD fields ("ld:…") and the <title>."""
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        name = meta.get("property") or meta.get("name") or meta.get("itemprop") or ""
        content = (meta.get("content") or "").strip()
        if name.strip() and content:
            found.setdefault(name.strip().casefold(), content)
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() == "application/ld+json" and script.text:
            for key, value in _linked_data(script.text):
                found.setdefault(f"ld:{key}", value)
    title = tree.findtext(".//title")
    if title and title.strip():
        found["html:title"] = title.strip()
    return found


def _linked_data(text: str) -> Iterator[tuple[str, str]]:
    try:
        stack = [json.loads(text)]
    except (ValueError, RecursionError):
        return
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            for key in ("headline", "datePublished"):
                if isinstance(item.get(key), str):
                    yield key.casefold(), item[key]
            for key in ("author", "publisher"):
                name = _linked_name(item.get(key))
                if name:
                    yield key, name
            stack.extend(reversed([v for v in item.values() if isinstance(v, (dict, list))]))


def _linked_name(value: object) -> str | None:
    if isinstance(value, list):
        names = [name for name in map(_linked_name, value) if name]
        return ", ".join(names) or None
    if isinstance(value, dict):
        value = value.get("name")
    if isinstance(value, str) and value.strip() and not value.startswith(("http:", "https:")):
        return value.strip()
    return None


def _first(meta: Mapping[str, str], names: Sequence[str]) -> str | None:
    for name in names:
        value = meta.get(name)
        if value and not value.startswith(("http:", "https:", "@")):
            return value
    return None


_TITLE_SEPARATOR = re.compile(r"\s+(?:[|–—-]|::)\s+")


def _title_element(title: str | None, site: str | None) -> str | None:
    # "Headline | Site" or "Site - Headline": the longest part that is not the site.
    if not title:
        return None
    parts = [p for p in _TITLE_SEPARATOR.split(title) if p.casefold() != (site or "").casefold()]
    return max(parts, key=len) if parts else title


def _iso_time(value: str | None, rules: Rules) -> datetime | None:
    if not value:
        return None
    try:
        return in_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        return find_date(matching_form(value), rules)
