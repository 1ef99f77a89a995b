"""Cut, re-headlined and re-edited copies join as near duplicates; other articles do not."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.pipeline.analyze import analyze
from services.pipeline.containment import KEY_PREFIX, decode, encode, measure_containment, sketch
from services.pipeline.dedup import NEAR, Candidate, decide
from services.pipeline.normalize import RawDocument

WIRE = (
    "BEIJING — China's exports rose 7.9% in May from a year earlier, customs data showed on "
    "Wednesday, beating forecasts as shipments to Southeast Asia made up for weaker demand "
    "from the United States and Europe.\n\n"
    "Imports fell 3.4%, leaving a trade surplus of $82.6 billion for the month, the General "
    "Administration of Customs said. Analysts polled beforehand had expected exports to grow "
    "about 5% and imports to fall by a smaller margin.\n\n"
    "Shipments to the Association of Southeast Asian Nations grew 15% and those to the "
    "European Union 2.9%, while exports to the United States fell 1.2%, the data showed. "
    "Car exports again rose sharply, driven by electric vehicles.\n\n"
    "The figures eased some worries about the world's second-largest economy, where a "
    "property slump and weak household spending have weighed on growth. The central bank "
    "cut two policy rates last month and promised more support if needed.\n\n"
    "Economists warned that new tariffs announced by Washington and Brussels could slow "
    "shipments in the second half of the year, and that firms had rushed orders forward "
    "to beat them. Trade data for June is due on July 12.\n\n"
    "Port operators in Shanghai and Ningbo reported record container volumes for the month, "
    "and freight rates on routes to Europe have more than doubled since April as shipping "
    "lines avoid the Red Sea, adding to costs for importers.\n\n"
    "The yuan was little changed after the data, trading at 7.24 per dollar. Shares of "
    "exporters rose in Hong Kong, led by makers of solar panels and batteries, while the "
    "benchmark index ended the day 0.6% higher.\n\n"
    "A survey of factory managers published last week showed new export orders shrinking "
    "for a second month, suggesting the strength may not last. Officials have said they "
    "aim for growth of around 5% this year."
)

POLICE = (
    "CAIRO: Police in Giza arrested three men on Sunday suspected of stealing cables from a "
    "telecommunications tower in the Haram district, the Interior Ministry said in a "
    "statement.\n\n"
    "Officers received a report from the company that 400 metres of copper cable had been "
    "cut overnight, causing an outage for thousands of mobile subscribers in the area.\n\n"
    "Investigations led to a workshop in Faisal, where the suspects were found with the "
    "stolen cable and tools used to strip it. They confessed to selling the copper to a "
    "scrap dealer for 25,000 Egyptian pounds, the statement said.\n\n"
    "The public prosecution ordered the three held for four days pending investigation, "
    "and police were searching for the scrap dealer."
)

COURT = (
    "A federal appeals court on Monday upheld a $48 million verdict against a Texas "
    "chemical company over a 2019 plant explosion that forced thousands of residents to "
    "leave their homes.\n\n"
    "A three-judge panel of the 5th U.S. Circuit Court of Appeals in New Orleans rejected "
    "the company's argument that the jury had been wrongly instructed on negligence, "
    "writing that the trial judge acted within her discretion.\n\n"
    "The blast at the plant in Port Neches injured three workers and damaged hundreds of "
    "homes. A fire burned for more than a month, and residents within four miles were "
    "ordered to evacuate twice.\n\n"
    "Lawyers for the residents said the ruling brought the families closer to being paid. "
    "The company said it was reviewing the decision and considering an appeal to the full court."
)

OTHER_OUTLET = (
    "China's export machine kept humming in May. Outbound shipments grew by close to 8 per "
    "cent year on year, official figures released in Beijing on Wednesday show, well ahead "
    "of what economists had pencilled in.\n\n"
    "Behind the surprise lies Southeast Asia: sales to the ASEAN bloc jumped by 15 per cent, "
    "more than offsetting a dip in deliveries to American customers. Imports, by contrast, "
    "slid 3.4 per cent, a sign that demand at home remains soft.\n\n"
    "Beijing has been trying to revive consumption with rate cuts and subsidies for trading "
    "in old cars and appliances, so far with limited effect. Exporters, meanwhile, face new "
    "tariffs in Washington and Brussels later this year."
)


def _candidate(document_id: str, raw: RawDocument) -> Candidate:
    analysis = analyze(raw)
    return Candidate(
        document_id,
        f"story-{document_id}",
        analysis.language.code,
        analysis.normalized.published_at,
        analysis.fingerprint,
    )


def _decide(raw: RawDocument, stored: RawDocument):  # type: ignore[no-untyped-def]
    analysis = analyze(raw)
    return decide(
        analysis.fingerprint,
        analysis.language.code,
        analysis.normalized.published_at,
        [_candidate("stored", stored)],
    )


def test_a_copy_cut_short_with_another_dateline_and_headline_is_a_near_duplicate() -> None:
    source = RawDocument(WIRE, title="China exports rise 7.9% in May, imports fall")
    for cut_at in (1100, 563):
        cut = WIRE.replace("BEIJING —", "BEIJING:")[:cut_at]
        title = "China's May exports beat forecasts on ASEAN demand"
        match = _decide(RawDocument(cut, title=title), source)
        assert match is not None, cut_at
        assert match.relation == NEAR
        assert match.evidence["containment"] > 0.9
    # Cut to a quarter of its source, the copy's Jaccard similarity is far below any
    # near-duplicate threshold: containment alone joins it.
    assert match.evidence["rule"] == "containment"
    assert match.evidence["jaccard"] < 0.35


def test_a_re_edited_report_is_a_near_duplicate() -> None:
    edited = (
        POLICE.replace("arrested three men on Sunday", "on Sunday arrested three men")
        .replace("the Interior Ministry said in a statement", "according to the ministry")
        .replace(
            "and police were searching for the scrap dealer.",
            "while police continued to search for the scrap dealer who bought the copper. "
            "Cable theft has caused repeated outages in greater Cairo this year.",
        )
    )
    match = _decide(
        RawDocument(edited, title="Three held over Giza cable theft"), RawDocument(POLICE)
    )
    assert match is not None and match.relation == NEAR


def test_a_re_headlined_copy_with_a_share_bar_is_a_near_duplicate() -> None:
    republished = (
        "4.3k SHARES Facebook Twitter Whatsapp Email\n\n"
        + COURT.split("\n\n", 1)[1]
        + "\n\nShare on Facebook"
    )
    analysis = analyze(RawDocument(republished, title="Appeals court backs $48M blast verdict"))
    assert "SHARES" not in analysis.normalized.text
    match = _decide(
        RawDocument(republished, title="Appeals court backs $48M blast verdict"),
        RawDocument(COURT, title="Court upholds verdict over Texas plant explosion"),
    )
    assert match is not None and match.relation == NEAR
    assert 0.5 < match.evidence["containment"] <= 1.0


def test_another_outlets_article_on_the_event_is_no_near_duplicate() -> None:
    match = _decide(RawDocument(OTHER_OUTLET, title="Exports defy gloom"), RawDocument(WIRE))
    assert match is None or match.relation != NEAR


def test_a_short_common_passage_is_no_copy() -> None:
    # Two articles that share one boilerplate sentence: a small part of the shorter one.
    tail = " Reporting by the Beijing newsroom; editing by the Asia desk."
    match = _decide(RawDocument(OTHER_OUTLET + tail), RawDocument(WIRE + tail))
    assert match is None or match.relation != NEAR


def test_a_truncated_copy_shares_content_keys_with_its_source() -> None:
    source = analyze(RawDocument(WIRE)).fingerprint.keys
    cut = analyze(RawDocument(WIRE[:700])).fingerprint.keys
    shared = {k for k in cut if k.startswith(KEY_PREFIX)} & set(source)
    assert len(shared) >= 2
    assert len(source) <= 150


def test_containment_is_exact_for_short_texts_and_symmetric() -> None:
    long_text = " ".join(f"w{i}" for i in range(400))
    short_text = " ".join(f"w{i}" for i in range(100, 180)) + " x1 x2 x3 x4 x5 x6 x7 x8"
    a, _, a_count = sketch(long_text)
    b, _, b_count = sketch(short_text)
    found = measure_containment(a, a_count, b, b_count)
    # 76 of the short text's 84 shingles lie inside the long text.
    assert found.shingles == (84, 396)
    assert abs(found.value - 76 / 84) < 0.15
    assert measure_containment(b, b_count, a, a_count) == found
    assert np.array_equal(decode(encode(a)), a)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "eps"]), max_size=60))
def test_a_text_contains_itself_wholly(words: list[str]) -> None:
    text = " ".join(words)
    values, keys, count = sketch(text)
    found = measure_containment(values, count, values, count)
    assert found.value == (1.0 if count else 0.0)
    assert all(k.startswith(KEY_PREFIX) for k in keys)
    assert len(keys) <= 16
