"""The documentation is true: the README's table of questions is copier.yml's, its links lead
somewhere, and it stays short. (Its commands run in test_user_journeys.py.)"""

from __future__ import annotations

import re

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
