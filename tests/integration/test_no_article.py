"""Pages without an article: stored, processed, out of stories and of the default feed."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.helpers import CONSENT, wait_for
from tests.integration.test_metrics import _value

WALL = {
    "title": "Przepraszamy, z Twojego adresu IP odnotowaliśmy bardzo dużo połączeń.",
    "content": "Podejrzewamy, że ktoś nadużył adresu IP, z którego korzystasz.\n\n"
    'Aby połączyć się z serwisem, zaznacz "Nie jestem robotem".\n\n'
    "Twój adres IP: 198.51.100.23",
}
ARTICLE = {
    "title": "Ferry terminal opens",
    "content": "The harbour authority opened a new ferry terminal on Tuesday. It cost 40 "
    "million euros and will serve 3,000 passengers a day.",
}


def _post(client: FlaskClient, fields: dict[str, Any]) -> str:
    response = client.post("/v1/documents", json=fields)
    assert response.status_code == 202, response.json
    return str(response.json["id"])


def _processed(client: FlaskClient, *ids: str) -> bool:
    return all(client.get(f"/v1/documents/{i}").json["status"] == "processed" for i in ids)


def _feed_ids(client: FlaskClient, query: str = "") -> list[str]:
    response = client.get(f"/v1/feed?{query}")
    assert response.status_code == 200, response.json
    return [item["document_id"] for item in response.json["items"]]


def test_a_wall_says_why_and_stays_out_of_the_default_feed(
    client: FlaskClient, worker: object
) -> None:
    wall = _post(client, {**WALL, "url": "https://www.portal.example.pl/a/1"})
    article = _post(client, ARTICLE)
    wait_for(lambda: _processed(client, wall, article))
    document = client.get(f"/v1/documents/{wall}").json
    assert (document["quality"], document["quality_reason"]) == ("no_article", "access_blocked")
    assert document["story_id"] is not None
    assert document["relation"] is None
    found = client.get(f"/v1/documents/{article}").json
    assert (found["quality"], found["quality_reason"]) == (None, None)

    assert _feed_ids(client) == [article]
    assert _feed_ids(client, "view=documents") == [article]
    assert _feed_ids(client, "quality=no_article") == [wall]
    items = client.get("/v1/feed?quality=no_article").json["items"]
    assert items[0]["quality"] == "no_article"
    assert set(_feed_ids(client, "quality=any&view=documents")) == {wall, article}
    assert client.get("/v1/feed?quality=bogus").status_code == 400


def test_identical_walls_of_one_site_form_no_story(client: FlaskClient, worker: object) -> None:
    first = _post(client, {**CONSENT, "external_id": "1"})
    wait_for(lambda: _processed(client, first))
    # Posted after the first is processed: an article would join it as an exact duplicate.
    later = [_post(client, {**CONSENT, "external_id": str(n)}) for n in (2, 3)]
    wait_for(lambda: _processed(client, first, *later))
    stories = set()
    for document_id in (first, *later):
        document = client.get(f"/v1/documents/{document_id}").json
        assert document["quality_reason"] == "consent_wall"
        assert document["relation"] is None
        stories.add(document["story_id"])
        members = client.get(f"/v1/stories/{document['story_id']}").json["members"]
        assert [m["document_id"] for m in members] == [document_id]
    assert len(stories) == 3
    assert _feed_ids(client) == []


def test_walls_are_counted_per_site(client: FlaskClient, worker: object) -> None:
    name = "ingest_no_article_documents_total"
    before = _value(client, name, source="example.de")
    processed = _value(client, "ingest_documents_processed_total", outcome="no_article")
    ids = [_post(client, {**CONSENT, "external_id": f"m{n}"}) for n in range(2)]
    wait_for(lambda: _processed(client, *ids))
    wait_for(lambda: _value(client, name, source="example.de") >= before + 2)
    assert _value(client, "ingest_documents_processed_total", outcome="no_article") >= processed + 2
