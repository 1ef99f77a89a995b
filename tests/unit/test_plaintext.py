"""Titles and bylines are reduced to plain text: no tag survives, and twice is once."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from services.pipeline.plaintext import plain_text

MARKUP = st.lists(
    st.sampled_from(
        [
            "<b>",
            "</b>",
            "<script>",
            "</script>",
            "alert(1)",
            "&lt;",
            "&gt;",
            "&amp;",
            "<img src=x ",
            "onerror=alert(2)>",
            "<!--",
            "-->",
            " ",
            "x",
            "Ünïcödé",
            "<",
            ">",
            "&",
            ";",
            "\n",
        ]
    ),
    max_size=30,
).map("".join)
TAG = re.compile(r"<[A-Za-z!/?]")


@given(st.one_of(MARKUP, st.text(max_size=200)))
def test_plain_text_is_idempotent_and_leaves_no_tag(value: str) -> None:
    once = plain_text(value)
    assert plain_text(once) == once
    if once is not None:
        assert not TAG.search(once)
        assert once == once.strip()


def test_plain_text_keeps_words_and_drops_markup() -> None:
    assert plain_text("<script>alert(1)</script>Budget &amp; <b>taxes</b>") == "Budget & taxes"
    assert plain_text("&lt;script&gt;alert(1)&lt;/script&gt;Hi") == "Hi"
    assert plain_text("Profits &lt; 5% in Q3") == "Profits < 5% in Q3"
    assert plain_text("Кириллица — «цитата»") == "Кириллица — «цитата»"
    assert plain_text("  <br>  ") is None
    assert plain_text(None) is None
