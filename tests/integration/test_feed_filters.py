"""Feed filters: language, tags (AND of ORs), source, published time, text search, tag counts."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import processed, wait_for

DOCUMENTS = {
    "summit": {
        "content": "Kazakhstan hosted a regional summit on water management in Astana. "
        "Ministers from five neighbouring states agreed to share river data every month.",
        "source": "wire",
        "published_at": "2024-01-10T08:00:00Z",
    },
    "railway": {
        "content": "Egypt announced a high speed railway line between Cairo and Alexandria. "
        "Construction of the first section starts next spring, the transport ministry said.",
        "source": "daily",
        "published_at": "2024-03-05T12:00:00Z",
    },
    "wheat": {
        "content": "Kazakhstan and Egypt signed an agreement on wheat exports. "
        "The deal covers two million tonnes of grain shipped through the Black Sea.",
        "source": "wire",
        "published_at": "2024-06-01T10:00:00Z",
    },
    "farmers": {
        "content": "Правительство Казахстана объявило о новой программе поддержки фермеров. "
        "Кредиты будут выдаваться под низкий процент на десять лет.",
        "source": "vesti",
        "language": "ru",
        "published_at": "2024-02-02T09:00:00Z",
    },
}


@pytest.fixture
def posted(client: FlaskClient, worker: object) -> dict[str, str]:
    ids = {
        name: client.post("/v1/documents", json=fields).json["id"]
        for name, fields in DOCUMENTS.items()
    }
    wait_for(lambda: processed(client, ids.values()))
    # Posted after the original is processed, so it is the duplicate.
    mirror = {**DOCUMENTS["railway"], "source": "mirror"}
    ids["mirror"] = client.post("/v1/documents", json=mirror).json["id"]
    wait_for(lambda: processed(client, ids.values()))
    return ids


def _names(client: FlaskClient, query: str, ids: dict[str, str]) -> set[str]:
    response = client.get(f"/v1/feed?{query}")
    assert response.status_code == 200, response.json
    by_id = {value: key for key, value in ids.items()}
    names = [by_id[item["document_id"]] for item in response.json["items"]]
    assert len(names) == len(set(names))
    return set(names)


def test_filters_select_and_combine(client: FlaskClient, posted: dict[str, str]) -> None:
    for query, expected in (
        ("view=documents", {"summit", "railway", "wheat", "farmers", "mirror"}),
        ("", {"summit", "railway", "wheat", "farmers"}),
        ("lang=ru", {"farmers"}),
        ("lang=ru,en", {"summit", "railway", "wheat", "farmers"}),
        ("tag=country:KZ", {"summit", "wheat", "farmers"}),
        ("tag=country:KZ&tag=country:EG", {"wheat"}),
        ("tag=country:KZ,country:EG", {"summit", "railway", "wheat", "farmers"}),
        ("tag=country:ZZ", set()),
        ("source=wire", {"summit", "wheat"}),
        ("source=wire&source=daily", {"summit", "railway", "wheat"}),
        ("since=2024-02-01&until=2024-06-01", {"railway", "farmers"}),
        ("since=2024-06-01T09:00:00Z", {"wheat"}),
        ("q=railway", {"railway"}),
        ("q=WHEAT+exports", {"wheat"}),
        ("q=wheat+railway", set()),
        ("q=фермеров", {"farmers"}),
        ("tag=country:KZ&source=wire&since=2024-05-01", {"wheat"}),
    ):
        assert _names(client, query, posted) == expected, query


def test_story_view_filters_the_canonical_document(
    client: FlaskClient, posted: dict[str, str]
) -> None:
    assert client.get(f"/v1/documents/{posted['mirror']}").json["relation"] == "exact_duplicate"
    assert _names(client, "view=documents&source=mirror", posted) == {"mirror"}
    assert _names(client, "source=mirror", posted) == set()
    [item] = client.get("/v1/feed?source=daily").json["items"]
    assert item["duplicates"] == 1


def test_filters_page_with_the_cursor(client: FlaskClient, posted: dict[str, str]) -> None:
    seen: list[str] = []
    cursor = ""
    for _ in range(5):
        page = client.get(f"/v1/feed?tag=country:KZ&limit=1{cursor}").json
        if not page["items"]:
            break
        seen += _ids(page["items"])
        cursor = f"&after={page['next_cursor']}"
    assert sorted(seen) == sorted([posted["summit"], posted["wheat"], posted["farmers"]])
    assert len(seen) == 3


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["document_id"] for item in items]


def test_tags_are_listed_with_counts_and_labels(
    client: FlaskClient, posted: dict[str, str]
) -> None:
    tags = client.get("/v1/tags?kind=country").json["tags"]
    by_id = {tag["id"]: tag for tag in tags}
    assert by_id["country:KZ"] == {"id": "country:KZ", "label": "Kazakhstan", "documents": 3}
    assert by_id["country:EG"]["documents"] == 3
    assert all(tag["id"].startswith("country:") for tag in tags)
    assert client.get("/v1/tags?kind=Country!").status_code == 400


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("tag=KZ", "query.tag"),
        ("tag=country:KZ,", "query.tag"),
        ("lang=English", "query.lang"),
        ("since=yesterday", "query.since"),
        ("until=2024-13-01", "query.until"),
        ("view=everything", "query.view"),
        ("q=", "query.q"),
        ("country=KZ", "query.country"),
        ("after=ZmVlZDp2MTp4", "query.after"),
    ],
)
def test_bad_filters_get_400_naming_them(client: FlaskClient, query: str, field: str) -> None:
    for path in ("/v1/feed", "/v1/feed.json", "/v1/feed.atom", "/v1/feed/stream"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, (path, query)
        assert response.content_type == "application/problem+json"
        fields = {
            error["field"].split(".")[0] + "." + error["field"].split(".")[1]
            for error in response.json["errors"]
        }
        assert field in fields, (path, query, response.json)
