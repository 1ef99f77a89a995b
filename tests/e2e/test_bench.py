"""The benchmark's quick mode: it completes and writes its figures. No timing is asserted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench import faults
from bench.__main__ import SERVICE_ENVIRONMENT, main
from bench.backends import fresh_database

KEYS = {
    "date",
    "mode",
    "commit",
    "machine",
    "corpus",
    "limit",
    "end_to_end",
    "latency",
    "intake",
    "stages",
    "scale",
    "memory",
    "targets",
}


def test_quick_bench_writes_valid_results(tmp_path: Path) -> None:
    output = tmp_path / "results.json"

    assert main(["--quick", "--output", str(output)]) == 0

    results = json.loads(output.read_text(encoding="utf-8"))
    assert results.keys() >= KEYS
    assert results["mode"] == "quick"
    assert {"cores", "memory_bytes", "python", "database"} <= results["machine"].keys()
    limit = results["limit"]
    assert {"per_core_docs_per_s", "total_before_docs_per_s", "total_after_docs_per_s"} <= (
        limit.keys()
    )
    mean = (limit["total_before_docs_per_s"] + limit["total_after_docs_per_s"]) / 2
    assert limit["total_docs_per_s"] == pytest.approx(mean, abs=0.01)  # figures are rounded
    assert {"p50_ms", "p95_ms", "p99_ms"} <= results["latency"].keys()
    assert {"single", "batch"} <= results["intake"].keys()
    stages = {"normalize", "language", "tag", "fingerprint", "deduplicate", "store"}
    assert stages <= results["stages"].keys()
    assert [point["size"] for point in results["scale"]] == sorted(
        point["size"] for point in results["scale"]
    )
    assert {"api", "worker"} <= results["memory"].keys()
    for target in results["targets"]:
        assert {"name", "value", "target", "pass"} <= target.keys()


@pytest.mark.slow
def test_the_fault_phase_loses_nothing_and_records_nothing_twice(tmp_path: Path) -> None:
    with fresh_database(os.environ.get("DATABASE_URL"), tmp_path, "faults") as url:
        figures = faults.run(
            {**os.environ, **SERVICE_ENVIRONMENT},
            database_url=url,
            directory=tmp_path,
            rate=4,
            timing=faults.Timing(lead=2, outage=3, tail=3),
            concurrency=2,
            api_workers=2,
            seed=7,
            first_document=2_000_000,
        )
    assert figures["crash_loops"] == []
    for fault in faults.FAULTS:
        found = figures[fault]
        assert found["accepted"] > 0, fault
        assert (found["lost"], found["double_effects"]) == (0, 0), (fault, found)
        assert found["processed_once"] == found["accepted"], (fault, found)
        assert found["recovery_seconds"] is not None, fault
