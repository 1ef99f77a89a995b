"""Related coverage: two articles on one event are linked, not merged; unrelated ones are not."""

from __future__ import annotations

from datetime import UTC, datetime

from services.pipeline.analyze import analyze
from services.pipeline.dedup import Candidate, decide
from services.pipeline.normalize import RawDocument
from services.pipeline.related import RELATED, RelatedThresholds, find_related

PUBLISHED = datetime(2024, 3, 14, 9, 0, tzinfo=UTC)

FIRST = RawDocument(
    "Rescue teams in the Kemerovo region pulled 14 miners alive from the Listvyazhnaya "
    "mine on Wednesday after a methane explosion trapped 52 workers underground, the "
    "Emergencies Ministry said.\n\n"
    "Governor Sergei Tsivilev said 240 rescuers were working in shifts and that the air "
    "in the lower galleries was still too dangerous to enter. Siberian Coal Energy "
    "Company, which owns the mine, said production had been halted.\n\n"
    "Prosecutors opened a criminal case over safety violations, the third at the "
    "Listvyazhnaya mine in two years.",
    title="14 miners rescued after Siberian mine blast",
    published_at=PUBLISHED,
)
SECOND = RawDocument(
    "Hopes faded on Thursday for dozens of workers still missing at Listvyazhnaya, "
    "where relatives gathered outside the company office in the cold.\n\n"
    "Sergei Tsivilev, the Kemerovo governor, told reporters that 240 rescuers had reached "
    "the second level but had to turn back because of smoke. Of the 52 men underground "
    "when the gas ignited, 14 had been brought out, most with burns.\n\n"
    "Families accused the Siberian Coal Energy Company of ignoring warnings about "
    "ventilation; the company declined to comment. Prosecutors opened a criminal case "
    "over safety violations at the mine, according to the Emergencies Ministry, and "
    "President Vladimir Putin ordered an inquiry.",
    title="Families wait for news at Listvyazhnaya",
    published_at=datetime(2024, 3, 15, 7, 30, tzinfo=UTC),
)
UNRELATED = RawDocument(
    "The central bank of Chile cut its benchmark rate by 75 basis points to 7.25% on "
    "Wednesday, more than analysts had expected, citing slowing inflation.\n\n"
    "Governor Rosanna Costa said the board would keep easing through the year. The peso "
    "weakened 1.3% against the dollar after the decision, and copper prices rose.",
    title="Chile cuts rates more than expected",
    published_at=PUBLISHED,
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


def _links(raw: RawDocument, *stored: tuple[str, RawDocument], **kwargs):  # type: ignore[no-untyped-def]
    analysis = analyze(raw)
    candidates = [_candidate(name, other) for name, other in stored]
    return find_related(
        analysis.fingerprint, analysis.normalized.published_at, candidates, **kwargs
    )


def test_another_article_on_the_event_is_linked_not_merged() -> None:
    analysis = analyze(SECOND)
    stored = _candidate("first", FIRST)
    assert decide(analysis.fingerprint, "en", SECOND.published_at, [stored]) is None
    links = _links(SECOND, ("first", FIRST), ("chile", UNRELATED))
    assert [link.story_id for link in links] == ["story-first"]
    evidence = links[0].evidence
    assert evidence["relation"] == RELATED
    assert evidence["facts"] >= 3
    assert "240" in evidence["numbers"] and "52" not in evidence["numbers"]
    assert evidence["names"]
    assert 0 < links[0].score <= 1


def test_the_story_joined_is_no_related_story() -> None:
    assert _links(SECOND, ("first", FIRST), story_id="story-first") == []


def test_an_unrelated_article_is_not_linked() -> None:
    assert _links(UNRELATED, ("first", FIRST)) == []


def test_a_day_around_publication_is_no_evidence() -> None:
    text = (
        "The fair opened on 14 March with 1,250 exhibitors from Kazakhstan and Uzbekistan, "
        "the organisers in Tashkent said."
    )
    other = (
        "Organisers counted 1,250 exhibitors when the fair in Tashkent opened on 14 March, "
        "with Kazakhstan the largest guest."
    )
    links = _links(
        RawDocument(text, published_at=PUBLISHED),
        ("other", RawDocument(other, published_at=PUBLISHED)),
        thresholds=RelatedThresholds(min_facts=1, min_kinds=1, min_weight=0),
    )
    assert links
    assert links[0].evidence["dates"] == []


def test_an_embedding_cosine_counts_beside_the_facts() -> None:
    far = _links(SECOND, ("first", FIRST), cosines={"first": 0.3})
    assert far == []
    strict = RelatedThresholds(min_facts=50, min_word_overlap=1.1)
    assert _links(SECOND, ("first", FIRST), thresholds=strict) == []
    close = _links(SECOND, ("first", FIRST), cosines={"first": 0.92}, thresholds=strict)
    assert len(close) == 1
    assert close[0].evidence["cosine"] == 0.92


def test_one_link_per_story_and_deterministic() -> None:
    stored = [_candidate("first", FIRST), _candidate("copy", FIRST)]
    stored[1] = Candidate("copy", "story-first", "en", None, stored[1].fingerprint)
    analysis = analyze(SECOND)
    links = find_related(analysis.fingerprint, SECOND.published_at, stored)
    assert len(links) == 1
    assert links == find_related(analysis.fingerprint, SECOND.published_at, stored[::-1])
