"""Fixtures shared by the template's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlalchemy_async_template.databases import Databases


@pytest.fixture(scope="session", autouse=True)
def isolated_copier_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the developer's own ~/.config/copier/settings.yml out of every render."""
    settings = tmp_path_factory.mktemp("copier") / "settings.yml"
    settings.write_text("{}\n", encoding="utf-8")
    previous = os.environ.get("COPIER_SETTINGS_PATH")
    os.environ["COPIER_SETTINGS_PATH"] = str(settings)
    yield
    if previous is None:
        del os.environ["COPIER_SETTINGS_PATH"]
    else:
        os.environ["COPIER_SETTINGS_PATH"] = previous


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    """Real PostgreSQL and MariaDB servers, started on first need by this worker and stopped
    when its session ends, whatever the outcome."""
    with Databases() as databases:
        yield databases


@pytest.fixture(scope="session")
def render_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("projects")
