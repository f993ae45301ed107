"""Fixtures shared by the template's tests.

Projects are rendered with pytest-copie's fixtures (`copie`, `copie_session`) and handled
through the companion package's `Project`; `--keep-copied-projects` keeps them for a look.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Render, render_with
from pytest_copie.plugin import Copie

from sqlalchemy_async_template.databases import Databases
from sqlalchemy_async_template.template import (
    is_template_checkout,
    isolated_copier_settings,
    locate,
)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Point pytest-copie at this checkout when `--template` was not given, from wherever
    pytest runs."""
    if not is_template_checkout(Path(config.option.template)):
        config.option.template = str(locate().files)


@pytest.fixture(scope="session", autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the developer's own ~/.config/copier/settings.yml out of every render."""
    with isolated_copier_settings(tmp_path_factory.mktemp("copier")):
        yield


@pytest.fixture(scope="session")
def render(copie_session: Copie) -> Render:
    """`render(combination, **answers) -> Project`: a new copy of `combination` at each call,
    in the session's pytest-copie directory."""
    return lambda combination, **answers: render_with(copie_session, combination, **answers)


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for the projects this worker verifies, one after the other."""
    return tmp_path_factory.mktemp("mypy-cache")


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    """Real PostgreSQL and MariaDB servers, started on first need by this worker and stopped
    when its session ends, whatever the outcome."""
    with Databases() as databases:
        yield databases
