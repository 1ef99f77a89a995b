"""The benchmark's quick mode: it completes and writes its figures. No timing is asserted.

The benchmark runs as its command line does, in a process of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAULTS = ("worker_killed", "redis_stopped", "database_unavailable")

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

pytestmark = pytest.mark.slow


def test_quick_bench_writes_valid_results(tmp_path: Path) -> None:
    output = tmp_path / "results.json"

    command = [sys.executable, "-m", "bench", "--quick", "--output", str(output)]
    subprocess.run(command, cwd=ROOT, check=True)

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
    mean_cpu = (limit["cpu_before_ms_per_doc"] + limit["cpu_after_ms_per_doc"]) / 2
    assert limit["cpu_ms_per_doc"] == pytest.approx(mean_cpu, abs=0.01)
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


def test_the_fault_phase_loses_nothing_and_records_nothing_twice(tmp_path: Path) -> None:
    output = tmp_path / "results.json"

    command = [sys.executable, "-m", "bench", "--quick", "--faults", "--output", str(output)]
    subprocess.run(command, cwd=ROOT, check=True)

    figures = json.loads(output.read_text(encoding="utf-8"))["faults"]
    assert figures["crash_loops"] == []
    for fault in FAULTS:
        found = figures[fault]
        assert found["accepted"] > 0, fault
        assert (found["lost"], found["double_effects"]) == (0, 0), (fault, found)
        assert found["processed_once"] == found["accepted"], (fault, found)
        assert found["recovery_seconds"] is not None, fault
