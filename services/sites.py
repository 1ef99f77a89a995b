"""Name the site a document came from, for labels that must stay few."""

from __future__ import annotations

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
        domain = get_fld(value.strip().lower(), fail_silently=True, fix_protocol=True)
        if domain:
            return str(domain)
    return UNKNOWN_SITE
