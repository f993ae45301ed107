"""What generated projects ship to run their database and their CI: `docker-compose.yml` and
the GitHub Actions workflow use the server versions this suite verifies against, and the
workflow and Dependabot's configuration pass zizmor, the GitHub Actions security linter, with
no finding."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from helpers import Render, run, user_env
from scenario import SERVER_DRIVERS

from sqlalchemy_async_template.databases import Databases
from sqlalchemy_async_template.matrix import Combination
from sqlalchemy_async_template.project import Project
from sqlalchemy_async_template.questions import choices
from sqlalchemy_async_template.tools import uv_executable

ZIZMOR = "zizmor>=1.32,<2"
IMAGE_NAMES = {"postgresql": "postgres", "mysql": "mariadb"}


def images(project: Project) -> dict[str, str]:
    """The database image of each file that names one: {file: "postgres:15"}."""
    compose = yaml.safe_load((project.path / "docker-compose.yml").read_text(encoding="utf-8"))
    workflow = yaml.safe_load(
        (project.path / ".github/workflows/ci.yml").read_text(encoding="utf-8")
    )
    return {
        "docker-compose.yml": compose["services"]["db"]["image"],
        ".github/workflows/ci.yml": workflow["jobs"]["test"]["services"]["db"]["image"],
    }


@pytest.mark.parametrize("driver", SERVER_DRIVERS)
def test_projects_ship_the_server_versions_the_suite_verifies(
    driver: str, render: Render, databases: Databases
) -> None:
    project = render(Combination(driver, "annotated", "uow"))
    verified = databases.server(project.dialect).server.major_version()
    for file, image in images(project).items():
        name, _, tag = image.partition(":")
        assert name == IMAGE_NAMES[project.dialect], f"{file}: {image}"
        assert tag == verified, (
            f"{file} ships {image}, but the suite verifies against {name} {verified}"
        )


@pytest.mark.parametrize("driver", choices("database_driver"))
def test_the_github_configuration_passes_zizmor(
    driver: str, render: Render, tmp_path: Path
) -> None:
    project = render(Combination(driver, "annotated", "uow")).path
    zizmor = [uv_executable(), "tool", "run", "--quiet", "--from", ZIZMOR, "zizmor"]
    completed = run(
        [*zizmor, "--offline", str(project)],
        cwd=tmp_path,
        env=user_env(tmp_path / "home"),
        check=False,
        timeout=600,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert re.search(r"No findings to report", output), output
    # Both files were audited: the workflow and Dependabot's configuration.
    assert "ci.yml" in output, output
    assert "dependabot.yml" in output, output
