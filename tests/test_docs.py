"""The documentation is true: the README's table of questions is copier.yml's, its links lead
somewhere, it stays short, and its first command works on a machine without uv."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from helpers import run, user_env

from sqlalchemy_async_template.docs import QUESTIONS_SECTION, marked_section, questions_table
from sqlalchemy_async_template.template import locate

CHECKOUT = locate().files
README = (CHECKOUT / "README.md").read_text(encoding="utf-8")
CONTRIBUTING = (CHECKOUT / "CONTRIBUTING.md").read_text(encoding="utf-8")
MAX_README_CHARACTERS = 6000
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def test_the_readme_lists_the_questions_of_copier_yml() -> None:
    assert marked_section(README, QUESTIONS_SECTION) == questions_table(), (
        "README.md's table of questions differs from copier.yml: run scripts/update-docs"
    )


def test_the_readme_is_short() -> None:
    assert len(README) <= MAX_README_CHARACTERS


def test_relative_links_lead_to_files_of_the_repository() -> None:
    for document in ("README.md", "CONTRIBUTING.md"):
        text = (CHECKOUT / document).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#:]+)\)", text):
            assert (CHECKOUT / target).exists(), f"{document} links to a missing {target}"


def test_contributing_describes_every_test_module() -> None:
    for module in sorted((CHECKOUT / "tests").glob("test_*.py")):
        assert f"`{module.name}`" in CONTRIBUTING, f"CONTRIBUTING.md does not list {module.name}"


def first_command(markdown: str) -> str:
    found = re.search(r"```sh\n(.*?)\n```", markdown, re.DOTALL)
    assert found is not None
    return found.group(1)


def test_the_readme_first_command_works_with_python_and_no_uv(tmp_path: Path) -> None:
    """Creates a project from a copy of this checkout and runs its tests, with nothing on
    PATH but the system's programs and a Python 3 (the README's /tmp is this test's)."""
    command = first_command(README).replace("/tmp/", f"{tmp_path}/")
    path = SYSTEM_PATH
    assert shutil.which("python3", path=path) is not None
    assert shutil.which("uv", path=path) is None, f"uv is on {path}: the test would prove nothing"
    checkout = shutil.copytree(
        CHECKOUT, tmp_path / "checkout", ignore=shutil.ignore_patterns(".venv", "*cache*")
    )
    result = run(
        ["bash", "-c", command],
        cwd=checkout,
        env=user_env(tmp_path / "home") | {"PATH": path},
        timeout=900,
    )
    assert re.search(r"\d+ passed", result.stdout), result.stdout
    assert (tmp_path / "myapp" / ".venv").is_dir()
