"""`primary_key` cannot change on `copier update`: the tables, the initial migration and every
id already stored have its type, so the template refuses, says why, and changes nothing.

The template is tagged twice in a temporary git copy (`v1.0.0`, and `v1.1.0` with a new
README line), a project is generated from `v1.0.0` with the plain `copier` command line and
committed, then updated as its user would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import copier, files_of, git, git_commit_all, snapshot_template, user_env

OLD, NEW = "v1.0.0", "v1.1.0"


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template")
    env = user_env(tmp_path_factory.mktemp("template-home"))
    snapshot_template(root)
    git_commit_all(root, env, "Release 1.0.0")
    git("tag", OLD, cwd=root, env=env)
    readme = root / "template/README.md.jinja"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nRelease 1.1.0.\n", "utf-8")
    git_commit_all(root, env, "Release 1.1.0")
    git("tag", NEW, cwd=root, env=env)
    return root


@pytest.fixture(params=["integer", "uuid"])
def project(
    request: pytest.FixtureRequest, template_repo: Path, tmp_path: Path
) -> tuple[Path, dict[str, str], str]:
    """A project generated from v1.0.0 with `primary_key` = the parameter, committed."""
    env = user_env(tmp_path / "home")
    destination = tmp_path / "project"
    copier(
        "copy",
        "--defaults",
        "--vcs-ref",
        OLD,
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
    assert recorded(destination)["_commit"] == OLD


def test_an_update_that_keeps_primary_key_goes_through(
    project: tuple[Path, dict[str, str], str],
) -> None:
    destination, env, key = project
    output = copier("update", "--defaults", cwd=destination, env=env)
    assert "Warning" not in output  # the recorded answers are read only where they exist
    assert recorded(destination)["_commit"] == NEW
    assert recorded(destination)["primary_key"] == key
    assert (destination / "README.md").read_text(encoding="utf-8").endswith("Release 1.1.0.\n")
    git_commit_all(destination, env, "Update to 1.1.0")
    # Naming the answer it already has is no change.
    copier("update", "--defaults", "--data", f"primary_key={key}", cwd=destination, env=env)
