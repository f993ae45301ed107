"""`primary_key` cannot change on `copier update`: the tables, the initial migration and every
id already stored have its type, so the template refuses, says why, and changes nothing.

The template is tagged in a temporary git copy, a project is generated from it with the plain
`copier` command line and committed, then updated as its user would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import copier, files_of, git, git_commit_all, snapshot_template, user_env

RELEASE = "v1.0.0"


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = snapshot_template(tmp_path_factory.mktemp("template"))
    env = user_env(tmp_path_factory.mktemp("template-home"))
    git_commit_all(root, env, "Release")
    git("tag", RELEASE, cwd=root, env=env)
    return root


@pytest.fixture(params=["integer", "uuid"])
def project(
    request: pytest.FixtureRequest, template_repo: Path, tmp_path: Path
) -> tuple[Path, dict[str, str], str]:
    """A project generated with `primary_key` = the parameter, committed."""
    env = user_env(tmp_path / "home")
    destination = tmp_path / "project"
    copier(
        "copy",
        "--defaults",
        "--vcs-ref",
        RELEASE,
        "--data",
        "project_name=Blog Service",
        "--data",
        f"primary_key={request.param}",
        str(template_repo),
        str(destination),
        cwd=tmp_path,
        env=env,
    )
    git_commit_all(destination, env, "Generate the project")
    return destination, env, request.param


def recorded(project: Path) -> dict[str, object]:
    answers: dict[str, object] = yaml.safe_load(
        (project / ".copier-answers.yml").read_text(encoding="utf-8")
    )
    return answers


def test_changing_primary_key_is_refused_and_changes_nothing(
    project: tuple[Path, dict[str, str], str],
) -> None:
    destination, env, key = project
    other = "uuid" if key == "integer" else "integer"
    before = files_of(destination)

    output = copier(
        "update",
        "--defaults",
        "--data",
        f"primary_key={other}",
        cwd=destination,
        env=env,
        check=False,
    )

    assert f'primary_key cannot change from "{key}" to "{other}"' in " ".join(output.split())
    assert "generate a new project" in output
    assert files_of(destination) == before
    assert git("status", "--porcelain", cwd=destination, env=env) == ""
    assert recorded(destination)["primary_key"] == key


def test_an_update_that_keeps_primary_key_goes_through(
    project: tuple[Path, dict[str, str], str],
) -> None:
    destination, env, key = project
    output = copier("update", "--defaults", cwd=destination, env=env)
    assert "Warning" not in output  # the recorded answers are read only where they exist
    assert recorded(destination)["primary_key"] == key
    # Naming the answer it already has is no change.
    copier("update", "--defaults", "--data", f"primary_key={key}", cwd=destination, env=env)
    assert recorded(destination)["primary_key"] == key
