"""`python -m services export`: the feed as JSON Lines, filtered, resumable by cursor."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from services.__main__ import main
from services.config import Config
from tests.helpers import wait_for


def test_export_writes_filtered_json_lines(
    client: FlaskClient,
    worker: object,
    config: Config,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bodies = [
        {
            "content": "Old news from Astana about a frozen lake.",
            "published_at": "2023-12-30T00:00:00Z",
        },
        {
            "content": "Kazakhstan exports more wheat to Egypt.",
            "published_at": "2024-02-01T00:00:00Z",
        },
        {
            "content": "Egypt opens a museum of river boats in Aswan.",
            "published_at": "2024-03-01T00:00:00Z",
        },
    ]
    ids = [client.post("/v1/documents", json=body).json["id"] for body in bodies]
    wait_for(
        lambda: all(client.get(f"/v1/documents/{i}").json["status"] == "processed" for i in ids)
    )
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    assert main(["export", "--since", "2024-01-01", "--view", "documents"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(line["document_id"] for line in lines) == sorted(ids[1:])
    assert lines == [
        item for item in client.get("/v1/feed?view=documents&since=2024-01-01").json["items"]
    ]

    assert main(["export", "--view", "documents", "--after", lines[0]["cursor"]]) == 0
    rest = [json.loads(line)["document_id"] for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["document_id"] not in rest and lines[1]["document_id"] in rest

    assert main(["export", "--lang", "english"]) == 2
    assert "lang" in capsys.readouterr().err
