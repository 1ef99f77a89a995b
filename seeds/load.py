"""POST the seed articles to a running API: `python -m seeds.load`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import requests

SEEDS = Path(__file__).resolve().parent


def seed_documents() -> list[dict[str, str]]:
    """Return the seed articles as intake payloads, in file order."""
    return [
        {"content": path.read_text(encoding="utf-8"), "source": "seeds", "external_id": path.stem}
        for path in sorted(SEEDS.glob("*.txt"))
    ]


def main() -> int:
    """POST every seed; print each answer."""
    api = os.environ.get("API_URL", "http://127.0.0.1:8000").rstrip("/")
    for payload in seed_documents():
        response = requests.post(f"{api}/v1/documents", json=payload, timeout=30)
        print(response.status_code, payload["external_id"], response.json().get("id"))
        if response.status_code >= 400:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
