"""The Alembic revisions the template ships, and the fingerprints recorded of them.

A database stamped at a revision never runs that revision again, so a released revision must
never change: a change to the example models comes as a new revision. `revisions.json` holds
the sha256 of every revision file as rendered for every answer set of the matrix and the
optional set (the dialect and the key type, among others, change what a revision says);
`test_migrations.py` renders them again and compares.

    uv run python tests/revisions.py     # record revisions (or answer sets) not recorded yet

Recording adds fingerprints and never replaces one.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import tempfile
import warnings
from pathlib import Path

import copier

from sqlalchemy_async_template.matrix import Combination, all_combinations, option_combinations
from sqlalchemy_async_template.runner import PROJECT_NAME
from sqlalchemy_async_template.template import locate

RECORD = Path(__file__).with_name("revisions.json")
VERSIONS = Path("migrations") / "versions"
# Only the revisions are rendered: everything at the top but `migrations/`, and in it all
# but `versions/`.
ONLY_REVISIONS = ["/*", "!/migrations", "/migrations/*", "!/migrations/versions"]
DOWN_REVISION = re.compile(r"^down_revision\b[^=]*= *(.+)$", re.MULTILINE)
REVISION = re.compile(r"^revision\b[^=]*= *(.+)$", re.MULTILINE)

Fingerprints = dict[str, dict[str, str]]


def answer_sets() -> list[Combination]:
    """Every answer set whose revisions are fingerprinted (skeletons ship none)."""
    return [*all_combinations(), *option_combinations()]


def render_revisions(combination: Combination, destination: Path) -> dict[str, str]:
    """The revision files the template ships for `combination`, by name, with their text."""
    source = locate()
    with warnings.catch_warnings():
        # A checkout's uncommitted changes are what a maintainer wants checked.
        warnings.simplefilter("ignore", copier.errors.DirtyLocalWarning)
        copier.run_copy(
            source.location,
            destination,
            data={"project_name": PROJECT_NAME, **combination.answers()},
            defaults=True,
            unsafe=False,
            vcs_ref=source.revision,
            quiet=True,
            exclude=ONLY_REVISIONS,
        )
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted((destination / VERSIONS).glob("*.py"))
    }


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def down_revision(text: str) -> str | None:
    """The `down_revision` a revision file declares (None for the first)."""
    found = DOWN_REVISION.search(text)
    assert found is not None, text
    value = ast.literal_eval(found.group(1))  # a string, a tuple of them, or None
    return value if value is None else str(value)


def revision_id(text: str) -> str:
    found = REVISION.search(text)
    assert found is not None, text
    return str(ast.literal_eval(found.group(1)))


def recorded() -> Fingerprints:
    fingerprints: Fingerprints = json.loads(RECORD.read_text(encoding="utf-8"))
    return fingerprints


def record_new() -> list[str]:
    """Add the fingerprints of revisions (or answer sets) not recorded yet; the added ones."""
    fingerprints = recorded() if RECORD.exists() else {}
    added = []
    with tempfile.TemporaryDirectory() as workdir:
        for combination in answer_sets():
            rendered = render_revisions(combination, Path(workdir) / combination.slug)
            for name, text in rendered.items():
                by_answers = fingerprints.setdefault(name, {})
                if combination.slug not in by_answers:
                    by_answers[combination.slug] = fingerprint(text)
                    added.append(f"{name} for {combination.slug}")
    ordered = {name: dict(sorted(by.items())) for name, by in sorted(fingerprints.items())}
    RECORD.write_text(json.dumps(ordered, indent=2) + "\n", encoding="utf-8")
    return added


if __name__ == "__main__":
    new = record_new()
    print("\n".join(f"recorded {entry}" for entry in new) or "nothing new to record")
