"""POST the seed articles to a running API: `python -m seeds.load`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import requests

SEEDS = Path(__file__).resolve().parent
API_KEY_FILE = SEEDS.parent / "var" / "api-key"


def seed_documents() -> list[dict[str, str]]:
    """Return the seed articles as intake payloads, in file order.

    No `source`: each article names its own ("المصدر: بوابة الفجر", "El.kz
    cites MFA"), and a source given in the payload would take its place.
    """
    return [
        {"content": path.read_text(encoding="utf-8"), "external_id": path.stem}
        for path in sorted(SEEDS.glob("*.txt"))
    ]


def idempotency_key(payload: dict[str, str]) -> str:
    """Return the Idempotency-Key of a seed, so that seeding twice stores each article once."""
    return f"seed-{payload['external_id']}"


def api_key() -> str | None:
    """Return the API key: API_KEY if set, else the one `make run` wrote to var/api-key."""
    if os.environ.get("API_KEY"):
        return os.environ["API_KEY"]
    if API_KEY_FILE.exists():
        return API_KEY_FILE.read_text().strip() or None
    return None


def main() -> int:
    """POST every seed; print each answer."""
    api = os.environ.get("API_URL", "http://127.0.0.1:8000").rstrip("/")
    key = api_key()
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    for payload in seed_documents():
        headers = {**auth, "Idempotency-Key": idempotency_key(payload)}
        response = requests.post(f"{api}/v1/documents", json=payload, headers=headers, timeout=30)
        print(response.status_code, payload["external_id"], response.json().get("id"))
        if response.status_code >= 400:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
