"""Related coverage: two articles on one event are linked, not merged; unrelated ones are not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.pipeline.analyze import analyze
from services.pipeline.dedup import Candidate, decide
from services.pipeline.fusion import Fusion, Model
from services.pipeline.normalize import RawDocument
from services.pipeline.related import (
    FEATURES,
    RELATED,
    choose_links,
    find_related,
    load_related,
    parse_related,
    related_signals,
)
from services.pipeline.specificity import Frequencies

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
# Another outlet's rewrite of FIRST's report: different words, the same facts.
REWRITE = RawDocument(
    "Fourteen miners were brought out alive from the Listvyazhnaya coal mine in the "
    "Kemerovo region on Wednesday, hours after a methane blast trapped 52 men below "
    "ground, Russia's Emergencies Ministry reported.\n\n"
    "About 240 rescuers are working in shifts, Kemerovo governor Sergei Tsivilev told "
    "reporters, but toxic air in the deepest galleries kept teams from going further. "
    "The owner, Siberian Coal Energy Company, has stopped production at the mine.\n\n"
    "Prosecutors have opened a criminal case over breaches of safety rules; it is the "
    "third such case at Listvyazhnaya in two years.",
    title="Fourteen miners pulled alive from Listvyazhnaya after methane blast",
    published_at=datetime(2024, 3, 14, 15, 0, tzinfo=UTC),
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


def _links(raw: RawDocument, *stored: tuple[str, RawDocument], models=None, **kwargs):  # type: ignore[no-untyped-def]
    analysis = analyze(raw)
    candidates = [_candidate(name, other) for name, other in stored]
    published = analysis.normalized.published_at
    if models is None:
        return find_related(analysis.fingerprint, published, candidates, **kwargs)
    found = related_signals(analysis.fingerprint, published, candidates, **kwargs)
    return choose_links(found, models)


def _model(name: str, threshold: float) -> Model:
    return Model(name, 0.0, dict.fromkeys(FEATURES[name], 0.0), threshold)


# Links every candidate (probability 0.5 at least 0.5) and shows its evidence.
EVERY = Fusion(_model("offline", 0.5), _model("embeddings", 0.5))


def test_the_packaged_models_load_with_every_signal() -> None:
    models = load_related()
    for model in (models.offline, models.embeddings):
        assert list(model.weights) == list(FEATURES[model.name])
        # More evidence never lowers the score.
        assert all(weight >= 0 for weight in model.weights.values())
        assert 0 < model.threshold < 1
    assert "cosine" in models.embeddings.weights
    assert "cosine" not in models.offline.weights


def test_a_models_file_without_a_signal_is_refused() -> None:
    text = """
[offline]
intercept = -1.0
threshold = 0.7
[offline.weights]
facts = 0.1
kinds = 0.1
log_weight = 0.1
[embeddings]
intercept = -1.0
threshold = 0.7
[embeddings.weights]
facts = 0.1
"""
    with pytest.raises(KeyError):
        parse_related(text)


def test_another_article_on_the_event_is_linked_not_merged() -> None:
    analysis = analyze(SECOND)
    stored = _candidate("first", FIRST)
    assert decide(analysis.fingerprint, "en", SECOND.published_at, [stored]) is None
    links = _links(SECOND, ("first", FIRST), ("chile", UNRELATED))
    assert [link.story_id for link in links] == ["story-first"]
    evidence = links[0].evidence
    assert evidence["relation"] == RELATED
    assert evidence["model"] == "offline"
    assert evidence["facts"] >= 3
    assert "240" in evidence["numbers"] and "52" not in evidence["numbers"]
    assert evidence["names"]
    assert evidence["weights"]["n:240"] > 0
    assert set(evidence["signals"]) == set(FEATURES["offline"])
    assert links[0].score == evidence["probability"]
    assert load_related().offline.threshold <= links[0].score <= 1


def test_a_rewrite_of_the_report_is_linked_not_merged() -> None:
    analysis = analyze(REWRITE)
    assert (
        decide(analysis.fingerprint, "en", REWRITE.published_at, [_candidate("first", FIRST)])
        is None
    )
    for cosines in (None, {"first": 0.96, "chile": 0.75}):
        links = _links(REWRITE, ("first", FIRST), ("chile", UNRELATED), cosines=cosines)
        assert [link.story_id for link in links] == ["story-first"]


def test_an_unrelated_article_is_not_linked() -> None:
    assert _links(UNRELATED, ("first", FIRST)) == []
    assert _links(UNRELATED, ("first", FIRST), cosines={"first": 0.92}) == []


def test_the_fitted_cosine_decides_between_two_pairs() -> None:
    """The same facts and words: linked with a high cosine, not with a low one."""
    close = _links(SECOND, ("first", FIRST), cosines={"first": 0.93})
    assert [link.story_id for link in close] == ["story-first"]
    assert close[0].evidence["model"] == "embeddings"
    assert close[0].evidence["signals"]["cosine"] == 0.93
    assert _links(SECOND, ("first", FIRST), cosines={"first": 0.75}) == []


def test_more_evidence_never_lowers_the_score() -> None:
    analysis = analyze(SECOND)
    found = related_signals(analysis.fingerprint, SECOND.published_at, [_candidate("first", FIRST)])
    features = dict(found[0].features)
    fitted = load_related().embeddings
    probabilities = []
    for cosine in (0.80, 0.88, 0.95):
        features["cosine"] = cosine
        probabilities.append(fitted.probability(features))
    assert probabilities == sorted(probabilities) and probabilities[0] < probabilities[-1]


def test_a_fact_common_in_the_window_weighs_less() -> None:
    analysis = analyze(SECOND)
    stored = [_candidate("first", FIRST)]
    rare = related_signals(analysis.fingerprint, SECOND.published_at, stored)[0]
    common = related_signals(
        analysis.fingerprint,
        SECOND.published_at,
        stored,
        frequencies=Frequencies({"n:240": 900}, 1000),
    )[0]
    assert common.weights["n:240"] < rare.weights["n:240"] / 10
    assert common.features["log_weight"] < rare.features["log_weight"]
    names = [key for key in rare.weights if key.startswith("s:")]
    assert names
    assert all(common.weights[key] == rare.weights[key] for key in names)


def test_the_story_joined_is_no_related_story() -> None:
    assert _links(SECOND, ("first", FIRST), story_id="story-first", models=EVERY) == []


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
        models=EVERY,
    )
    assert links
    assert links[0].evidence["dates"] == []
    assert links[0].evidence["numbers"] == ["1250"]


def test_one_link_per_story_and_deterministic() -> None:
    stored = [_candidate("first", FIRST), _candidate("copy", FIRST)]
    stored[1] = Candidate("copy", "story-first", "en", None, stored[1].fingerprint)
    analysis = analyze(SECOND)
    links = find_related(analysis.fingerprint, SECOND.published_at, stored)
    assert len(links) == 1
    assert links == find_related(analysis.fingerprint, SECOND.published_at, stored[::-1])
