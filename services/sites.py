"""Name the site a document came from, for labels that must stay few."""

from __future__ import annotations

import functools

from tld import get_fld

UNKNOWN_SITE = "unknown"


def site_label(url: str | None, source: str | None) -> str:
    """Return the registered domain of the URL, else of the source, else `unknown`.

    "https://www.bbc.co.uk/news/1" gives "bbc.co.uk"; a source that is a
    domain ("Spiegel.de") gives it in lower case; a name that is none
    ("Reuters") gives `unknown`. A metric labelled with it has one series
    per site, never one per page or per free-text source name. Pure: the
    Public Suffix List ships inside the `tld` package.
    """
    for value in (url, source):
        if not value:
            continue
        domain = _registered_domain(_host(value))
        if domain:
            return domain
    return UNKNOWN_SITE


def _host(value: str) -> str:
    """Return the host part of a URL or of a bare domain, lower-cased."""
    rest = value.strip().lower().split("://", 1)[-1]
    for end in "/?#":
        rest = rest.split(end, 1)[0]
    return rest.rsplit("@", 1)[-1].split(":", 1)[0]


@functools.lru_cache(maxsize=4096)
def _registered_domain(host: str) -> str | None:
    """Return the host's registered domain, once per host: a batch often comes from one site."""
    domain = get_fld(host, fail_silently=True, fix_protocol=True)
    return str(domain) if domain else None


def warm() -> None:
    """Load the Public Suffix List (some 30 ms) now, not while a request waits."""
    _registered_domain("example.com")
