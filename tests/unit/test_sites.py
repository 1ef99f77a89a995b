"""Site labels: the registered domain of a document's URL or source, else `unknown`."""

from __future__ import annotations

import pytest

from services.sites import UNKNOWN_SITE, site_label


@pytest.mark.parametrize(
    ("url", "source", "label"),
    [
        ("https://www.bbc.co.uk/news/1", None, "bbc.co.uk"),
        ("HTTP://user@News.Example.com:8080/a/b?c=d#e", None, "example.com"),
        ("www.lemonde.fr/international?x=1", "Le Monde", "lemonde.fr"),
        (None, "Spiegel.de", "spiegel.de"),
        ("https://news64.example/2024/12/29/story", "Wire ES 32", UNKNOWN_SITE),
        ("https://news64.example/2024/12/29/story", "https://www.reuters.com/world", "reuters.com"),
        (None, "Reuters", UNKNOWN_SITE),
        ("", "", UNKNOWN_SITE),
    ],
)
def test_the_site_is_the_registered_domain_of_the_url_else_of_the_source(
    url: str | None, source: str | None, label: str
) -> None:
    assert site_label(url, source) == label


def test_pages_of_one_site_share_its_label() -> None:
    pages = [f"https://www.bbc.co.uk/news/{n}" for n in range(3)]
    assert {site_label(page, None) for page in pages} == {"bbc.co.uk"}
