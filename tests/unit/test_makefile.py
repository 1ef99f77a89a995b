"""`make run` installs what running needs; the developer targets add the test tools."""

from __future__ import annotations

import re
from pathlib import Path

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"
RULE = re.compile(r"^(?P<target>[^\s:=#][^:=]*?):(?P<prerequisites>[^=\n]*)$", re.MULTILINE)


def _rules() -> dict[str, tuple[list[str], str]]:
    """Return each target's prerequisites and recipe."""
    text = MAKEFILE.read_text()
    rules: dict[str, tuple[list[str], str]] = {}
    for match in RULE.finditer(text):
        recipe = re.match(r"(?:\t.*\n?)*", text[match.end() + 1 :])
        rules[match["target"].strip()] = (
            match["prerequisites"].split(),
            recipe.group(0) if recipe else "",
        )
    return rules


def test_running_installs_the_runtime_requirements_only() -> None:
    rules = _rules()
    assert rules["run"][0] == ["install"]
    assert rules["seed"][0] == ["install"]
    (stamp,) = rules["install"][0]
    prerequisites, recipe = rules[stamp]
    assert prerequisites == ["requirements.txt"]
    assert "requirements-dev.txt" not in recipe


def test_developer_targets_add_the_test_tools_on_their_own_stamp() -> None:
    rules = _rules()
    for target in ("test", "lint", "bench", "bench-quick", "eval", "test-model"):
        assert rules[target][0] == ["install-dev"], target
    (stamp,) = rules["install-dev"][0]
    prerequisites, recipe = rules[stamp]
    # Its own stamp, made after the runtime's: `make test` then `make run`
    # finds both up to date.
    assert stamp != rules["install"][0][0]
    assert prerequisites == [rules["install"][0][0], "requirements-dev.txt"]
    assert "requirements-dev.txt" in recipe
