"""Related coverage over HTTP: two stories on one event, linked both ways, counted in the feed."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.helpers import wait_for
from tests.integration.test_no_article import _post, _processed
from tests.unit.test_related import FIRST, REWRITE, UNRELATED


def _fields(raw) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "content": raw.content,
        "title": raw.title,
        "published_at": raw.published_at.isoformat(),
    }


def test_stories_on_one_event_are_linked_as_related(client: FlaskClient, worker: object) -> None:
    first = _post(client, _fields(FIRST))
    chile = _post(client, _fields(UNRELATED))
    wait_for(lambda: _processed(client, first, chile))
    second = _post(client, _fields(REWRITE))
    wait_for(lambda: _processed(client, second))
    story = {i: client.get(f"/v1/documents/{i}").json["story_id"] for i in (first, second, chile)}
    assert len(set(story.values())) == 3

    found = client.get(f"/v1/stories/{story[second]}").json
    assert [r["story_id"] for r in found["related"]] == [story[first]]
    related = found["related"][0]
    assert related["canonical_id"] == first
    assert related["evidence"]["relation"] == "related"
    assert related["link"] == f"/v1/stories/{story[first]}"
    # Both ways.
    back = client.get(f"/v1/stories/{story[first]}/related").json
    assert back["story_id"] == story[first]
    assert [r["story_id"] for r in back["related"]] == [story[second]]
    assert client.get(f"/v1/stories/{story[chile]}/related").json["related"] == []

    counts = {
        item["story_id"]: item["related_count"] for item in client.get("/v1/feed").json["items"]
    }
    assert counts == {story[first]: 1, story[chile]: 0, story[second]: 1}


def test_related_coverage_of_an_unknown_story_is_not_found(client: FlaskClient) -> None:
    response = client.get("/v1/stories/no-such-story/related")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
