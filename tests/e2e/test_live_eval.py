"""`python -m bench.live`: the evaluation through the running service decides as in memory.

Runs as its command line does, in a process of its own, on the seeds and
the development set, facts only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.eval import evaluate

ROOT = Path(__file__).resolve().parents[2]
SETS = ("seeds", "devset")

pytestmark = pytest.mark.slow


def test_the_running_service_makes_the_stories_the_in_memory_run_makes() -> None:
    command = [sys.executable, "-m", "bench.live", "--modes", "off", "--json"]
    for name in SETS:
        command += ["--set", name]
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    live = json.loads(done.stdout)
    in_memory = evaluate(list(SETS), ["off"])

    for name in SETS:
        assert live[name]["off"]["pairs"] == in_memory[name]["off"]["pairs"], name
        assert live[name]["off"]["false_merge_count"] == 0, name
    seeds = live["seeds"]["off"]
    assert seeds["pairs"]["translation"]["tp"] == 1
    assert [link[2] for link in seeds["links"]] == ["translation"]
