"""The template repository's own CI (`.github/workflows/ci.yml`, not the generated one): it
passes zizmor, pins its actions by hash and only reads; its matrix is read from copier.yml
through `sqla-template ci-matrix` and splits the suite so that every test runs exactly once;
and the release check, `scripts/check-changelog`, refuses a tag the CHANGELOG does not
describe."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import zizmor_findings
from typer.testing import CliRunner

from sqlalchemy_async_template.cli import app
from sqlalchemy_async_template.questions import choices
from sqlalchemy_async_template.template import locate

CHECKOUT = locate().files
WORKFLOW = CHECKOUT / ".github/workflows/ci.yml"
CHECK_CHANGELOG = CHECKOUT / "scripts/check-changelog"
PINNED = re.compile(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}")


def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return loaded


def steps_of(job: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = workflow()["jobs"][job]["steps"]
    return steps


def commands_of(job: str) -> str:
    return "\n".join(step.get("run", "") for step in steps_of(job))


def test_the_repository_workflow_passes_zizmor(tmp_path: Path) -> None:
    output = zizmor_findings(CHECKOUT / ".github", tmp_path)
    assert "ci.yml" in output, output
    assert "dependabot.yml" in output, output


def test_actions_are_pinned_by_hash_and_the_workflow_only_reads() -> None:
    # YAML 1.1 (PyYAML) reads the key `on` as True.
    triggers = workflow()[True]  # type: ignore[index]
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    assert triggers["schedule"], "no weekly run"
    assert workflow()["permissions"] == {"contents": "read"}
    uses = []
    for name, job in workflow()["jobs"].items():
        assert "permissions" not in job, f"job {name} asks for more than the workflow grants"
        uses += [step["uses"] for step in job["steps"] if "uses" in step]
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name
    assert uses, "the workflow uses no action"
    for action in uses:
        assert PINNED.fullmatch(action), f"{action} is not pinned to a full commit hash"


def test_the_matrix_is_read_from_copier_yml_through_sqla_template() -> None:
    assert "sqla-template ci-matrix" in commands_of("slices")
    test = workflow()["jobs"]["test"]
    assert test["needs"] == "slices"
    assert test["strategy"]["matrix"] == "${{ fromJSON(needs.slices.outputs.matrix) }}"
    # The servers come the way they come on a maintainer's machine: scripts/test installs them.
    (suite,) = [step for step in steps_of("test") if "scripts/test" in step.get("run", "")]
    assert suite["env"]["KEYWORDS"] == "${{ matrix.keywords }}"
    assert suite["run"] == 'scripts/test -k "$KEYWORDS"'
    # The weekly run takes the newest Copier and the rest, as a new user would.
    (upgrade,) = [step for step in steps_of("test") if "uv lock --upgrade" in step.get("run", "")]
    assert upgrade["if"] == "github.event_name == 'schedule'"

    result = CliRunner().invoke(app, ["ci-matrix"])
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1, "GITHUB_OUTPUT takes one line"
    include = json.loads(result.output)["include"]
    assert [entry["slice"] for entry in include] == [*choices("database_driver"), "no driver"]


def collected(*arguments: str) -> set[str]:
    """The ids of the tests pytest collects from this checkout with `arguments`."""
    pytest_command = [
        sys.executable,
        "-m",
        "pytest",
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    completed = subprocess.run(
        [*pytest_command, *arguments],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode in {0, 5}, completed.stdout + completed.stderr
    return {line for line in completed.stdout.splitlines() if "::" in line}


def test_the_slices_run_every_test_of_the_suite_exactly_once() -> None:
    include = json.loads(CliRunner().invoke(app, ["ci-matrix"]).output)["include"]
    everything = collected()
    assert len(everything) > 100
    seen: set[str] = set()
    for entry in include:
        tests = collected("-k", entry["keywords"])
        assert tests, f"the slice {entry['slice']} runs nothing"
        assert not tests & seen, f"{sorted(tests & seen)[:3]} run in two slices"
        seen |= tests
    assert seen == everything, f"no slice runs {sorted(everything - seen)[:3]}"


# --- scripts/check-changelog ------------------------------------------------------------------

CHANGELOG = """\
# Changelog

## Unreleased

### Fixed
- Something not released yet.

## 1.2.0 - 2026-12-01

### Added
- A question.

## [1.1.0] - 2026-11-01

### Fixed
- A fix.

## 1.0.1

- No date.

## 1.0.0 - 2026-10-01

## 0.9.0 - 2026-09-01

- The first one.
"""


def check_changelog(tag: str, changelog: Path) -> subprocess.CompletedProcess[str]:
    # The script runs with any Python 3 before anything is installed, as the job runs it.
    return subprocess.run(
        [CHECK_CHANGELOG, tag, changelog],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def changelog(tmp_path: Path) -> Path:
    path = tmp_path / "CHANGELOG.md"
    path.write_text(CHANGELOG, encoding="utf-8")
    return path


@pytest.mark.parametrize("tag", ["v1.2.0", "v1.1.0", "v0.9.0"])
def test_a_tag_with_its_changelog_section_passes(tag: str, changelog: Path) -> None:
    checked = check_changelog(tag, changelog)
    assert checked.returncode == 0, checked.stderr
    assert f"has a section for {tag}" in checked.stdout


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("v1.3.0", "has no section for v1.3.0: add '## 1.3.0 - YYYY-MM-DD'"),
        ("v1.0.1", "has no date: write '## 1.0.1 - YYYY-MM-DD'"),
        ("v1.0.0", "the section '## 1.0.0' is empty"),
        ("1.2.0", "release tags look like v1.2.0"),
        ("v1.2", "release tags look like v1.2.0"),
    ],
)
def test_a_tag_the_changelog_does_not_describe_fails_saying_what_to_write(
    tag: str, message: str, changelog: Path
) -> None:
    checked = check_changelog(tag, changelog)
    assert checked.returncode == 1
    assert message in checked.stderr
    assert changelog.read_text(encoding="utf-8") == CHANGELOG


def test_every_tag_of_this_repository_has_its_changelog_section() -> None:
    tags = subprocess.run(
        ["git", "tag", "--list", "v*"], cwd=CHECKOUT, capture_output=True, text=True, check=False
    ).stdout.split()
    real = CHECKOUT / "CHANGELOG.md"
    for tag in tags:
        checked = check_changelog(tag, real)
        assert checked.returncode == 0, checked.stderr
    # ...and the check is not a formality on the real CHANGELOG either.
    assert check_changelog("v99.0.0", real).returncode == 1
