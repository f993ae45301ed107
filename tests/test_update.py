"""`copier update` never loses the user's work.

A temporary git copy of the template is tagged twice, `v1.0.0` (the template as it is) and
`v1.1.0` (a README section, a docstring change in the models and a new file). A project is
rendered from `v1.0.0` (pytest-copie), committed, and edited by its "user": a new module with
its test, an edited README section, a new model field and the Alembic revision that adds it.
Then the project is updated: with the plain `copier update` command, as a user runs it;
with pytest-copie's `copie.update`; and with `copier.run_update` where an answer changes.

The expected result is always computed the same way: a fresh render of `v1.1.0` with the
project's answers, with the user's own changes applied on top.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass
from pathlib import Path

import copier
import pytest
import yaml
from helpers import (
    conflicted_files,
    files_of,
    git,
    git_commit_all,
    project_of,
    run,
    user_env,
)
from helpers import copier as copier_command
from pytest_copie.plugin import Copie, Result

from sqlalchemy_async_template.project import Project
from sqlalchemy_async_template.template import locate, snapshot
from sqlalchemy_async_template.tools import uv_executable
from sqlalchemy_async_template.verify import STEPS, verify

PROJECT_NAME = "Blog Service"
PACKAGE = "blog_service"
OLD, NEW = "v1.0.0", "v1.1.0"

# ------------------------------------------------------------------ the template's v1.1.0

MODELS_TEMPLATES = "template/src/{{package_name}}"
NEW_MODELS_FIRST_LINE = '"""The example domain (template v1.1.0): users, their posts, and tags.'
NEW_README_SECTION = (
    "\n## Support\n\nAsk in #blog-service; template changes arrive with `copier update`.\n"
)
NEW_TEMPLATE_FILE = "CONTRIBUTING.md"


def release_v1_1(template: Path) -> None:
    """The template change between the two tags: an appended README section, a changed first
    line in both model styles' `models.py`, and a new file."""
    readme = template / "template/README.md.jinja"
    readme.write_text(readme.read_text(encoding="utf-8") + NEW_README_SECTION, encoding="utf-8")
    models = sorted((template / MODELS_TEMPLATES).glob("*models.py*"))
    assert len(models) == 2, f"expected an annotated and a classic models.py, got {models}"
    for path in models:
        first, rest = path.read_text(encoding="utf-8").split("\n", 1)
        assert first.startswith('"""'), f"{path.name} no longer starts with its docstring"
        path.write_text(f"{NEW_MODELS_FIRST_LINE}\n{rest}", encoding="utf-8")
    (template / f"template/{NEW_TEMPLATE_FILE}.jinja").write_text(
        "# Contributing to {{ project_name }}\n\nRun `uv run pytest` before every push.\n",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git copy of the template with the two tags."""
    root = tmp_path_factory.mktemp("template")
    env = user_env(tmp_path_factory.mktemp("template-home"))
    snapshot(root)
    git_commit_all(root, env, "Release 1.0.0")
    git("tag", OLD, cwd=root, env=env)
    release_v1_1(root)
    git_commit_all(root, env, "Release 1.1.0")
    git("tag", NEW, cwd=root, env=env)
    return root


# ------------------------------------------------------------------ the user's work


@dataclass(frozen=True)
class Edit:
    """The user replaces `old` with `new` in an existing file."""

    path: str
    old: str
    new: str

    def applies_to(self, root: Path) -> bool:
        return self.old in (root / self.path).read_text(encoding="utf-8")

    def apply(self, root: Path) -> None:
        file = root / self.path
        text = file.read_text(encoding="utf-8")
        assert text.count(self.old) == 1, f"{self.path}: {self.old!r} is not there exactly once"
        file.write_text(text.replace(self.old, self.new), encoding="utf-8")


EMAIL_COLUMN = "    email: Mapped[str] = mapped_column(String(254), unique=True)\n"
BIO_COLUMN = "    bio: Mapped[str | None] = mapped_column(Text)\n"
USER_EDITS = (
    Edit(
        "README.md",
        "## Tests\n",
        "## Tests\n\nThe team runs the whole suite before every push; see services.py too.\n",
    ),
    Edit(f"src/{PACKAGE}/models.py", EMAIL_COLUMN, EMAIL_COLUMN + BIO_COLUMN),
)
INSTALL_LINT_TEST = [step for step in STEPS if step.name in {"install", "ruff", "pytest"}]
USER_FILES = {
    f"src/{PACKAGE}/services.py": '''\
"""Business rules of the blog, on top of the repositories."""


def slugify(title: str) -> str:
    """The URL fragment of a post title."""
    return "-".join(title.lower().split())
''',
    "tests/test_services.py": f"""\
from {PACKAGE}.services import slugify


def test_slugify_joins_lower_case_words() -> None:
    assert slugify("Async  SQLAlchemy Tips") == "async-sqlalchemy-tips"
""",
    "migrations/versions/20261201_a1b2c3d4e5f6_add_users_bio.py": '''\
"""Add users.bio.

Revision ID: a1b2c3d4e5f6
Revises: 5f1d0a7c3b2e
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a1b2c3d4e5f6"
down_revision: str | None = "5f1d0a7c3b2e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("bio", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("bio")
''',
}


def apply_user_work(root: Path) -> None:
    for edit in USER_EDITS:
        edit.apply(root)
    for name, content in USER_FILES.items():
        (root / name).write_text(content, encoding="utf-8")


# ------------------------------------------------------------------ rendering and updating


@dataclass
class Workspace:
    template: Path
    copie: Copie
    env: dict[str, str]

    def render(self, ref: str, answers: dict[str, object]) -> Project:
        return project_of(
            self.copie.copy(
                extra_answers={"project_name": PROJECT_NAME, **answers},
                template_dir=self.template,
                vcs_ref=ref,
            )
        )

    def user_project(self, extra_work: Callable[[Path], None] | None = None) -> Path:
        """A project generated from v1.0.0, committed, then edited and committed again."""
        project = self.render(OLD, {}).path
        git_commit_all(project, self.env, "Generate the project")
        apply_user_work(project)
        if extra_work:
            extra_work(project)
        git_commit_all(project, self.env, "The user's work")
        return project

    def expected(self, answers: dict[str, object]) -> tuple[dict[str, bytes], set[str]]:
        """A fresh render of v1.1.0 with `answers`, plus the user's work: the tree an update
        must give. Also the files where the user's edit cannot apply (its lines are gone from
        the new render), which the update can only leave in conflict."""
        fresh = self.render(NEW, answers).path
        unmergeable = {edit.path for edit in USER_EDITS if not edit.applies_to(fresh)}
        for edit in USER_EDITS:
            if edit.path not in unmergeable:
                edit.apply(fresh)
        for name, content in USER_FILES.items():
            (fresh / name).write_text(content, encoding="utf-8")
        return files_of(fresh), unmergeable


@pytest.fixture
def workspace(template_repo: Path, copie: Copie, tmp_path: Path) -> Workspace:
    return Workspace(template_repo, copie, user_env(tmp_path / "home"))


def answers_file(project: Path) -> dict[str, object]:
    return Project(project).answers


def assert_tree(
    actual: dict[str, bytes], expected: dict[str, bytes], *, ignore: Set[str] = frozenset()
) -> None:
    assert sorted(actual) == sorted(expected), "the project's files differ from the expected set"
    different = [
        name for name in sorted(expected) if name not in ignore and actual[name] != expected[name]
    ]
    assert different == [], (
        f"these files differ from a fresh render plus the user's work: {different}"
    )


def unmerged_paths(project: Path, env: dict[str, str]) -> set[str]:
    return set(git("diff", "--name-only", "--diff-filter=U", cwd=project, env=env).split())


# ------------------------------------------------------------------ the tests


def test_update_brings_the_new_template_version_and_keeps_the_users_work(
    workspace: Workspace,
) -> None:
    project = workspace.user_project()
    dotenv_before = (project / ".env").read_bytes()

    # The plain command line, as a user runs it: pytest-copie always passes `unsafe=True`, so
    # only this proves that `copier update` works without `--trust`.
    output = copier_command("update", "--defaults", cwd=project, env=workspace.env)

    assert "1.1.0" in output
    assert answers_file(project)["_commit"] == NEW
    assert conflicted_files(project) == set(), "copier update left conflicts or *.rej files"
    assert unmerged_paths(project, workspace.env) == set()

    after = files_of(project)
    # The template's change arrived...
    assert NEW_TEMPLATE_FILE in after
    assert after["README.md"].decode().endswith(NEW_README_SECTION)
    assert after[f"src/{PACKAGE}/models.py"].decode().startswith(NEW_MODELS_FIRST_LINE)
    # ...and every piece of the user's work is intact, byte for byte.
    for name, content in USER_FILES.items():
        assert after[name] == content.encode(), f"{name} changed"
    for edit in USER_EDITS:
        assert edit.new in after[edit.path].decode(), f"the user's edit of {edit.path} is lost"
    expected, unmergeable = workspace.expected({})
    assert unmergeable == set()
    # .env is rendered once and never touched again: it holds the user's own settings.
    assert after[".env"] == dotenv_before
    assert_tree(after, expected)

    # The updated project still installs, lints and passes its tests, the user's included
    # (test_migrations_match_the_models checks the user's revision against the new field).
    git_commit_all(project, workspace.env, "Update from the template")
    assert_installs_lints_and_passes(project)


def assert_installs_lints_and_passes(project: Path) -> None:
    verification = verify(Project(project), steps=INSTALL_LINT_TEST)
    assert verification.passed, verification.failure_report()
    assert " passed" in verification.step("pytest").output


@pytest.mark.parametrize(
    ("answer", "value", "removed", "added", "conflicts"),
    [
        pytest.param(
            "session_pattern",
            "fastapi",
            {f"src/{PACKAGE}/unit_of_work.py", "tests/test_unit_of_work.py"},
            {f"src/{PACKAGE}/api/app.py", f"src/{PACKAGE}/api/deps.py", "tests/test_api.py"},
            set(),
            id="session_pattern=fastapi",
        ),
        pytest.param(
            "database_driver",
            "asyncpg",
            set(),
            {"docker-compose.yml"},
            set(),
            id="database_driver=asyncpg",
        ),
        pytest.param(
            "model_style",
            "classic",
            set(),
            set(),
            # The whole of models.py is rewritten in the other style, so the user's new
            # annotated field cannot merge: Copier keeps it, between conflict markers.
            {f"src/{PACKAGE}/models.py"},
            id="model_style=classic",
        ),
    ],
)
def test_update_can_change_an_answer(
    workspace: Workspace,
    answer: str,
    value: str,
    removed: set[str],
    added: set[str],
    conflicts: set[str],
) -> None:
    project = workspace.user_project()
    before = files_of(project)

    # `copie.update` cannot change an answer already recorded (it passes answers as defaults).
    copier.run_update(
        project, data={answer: value}, defaults=True, overwrite=True, unsafe=False, quiet=True
    )

    answers = answers_file(project)
    assert answers[answer] == value
    assert answers["_commit"] == NEW
    after = files_of(project)
    expected, unmergeable = workspace.expected({answer: value})
    assert unmergeable == conflicts
    assert conflicted_files(project) == conflicts

    # Exactly the files of a fresh render with the new answer, plus the user's own files:
    # nothing left over from the old choice.
    assert removed <= set(before)
    assert not removed & set(after), "files of the old choice are still there"
    assert added <= set(after)
    assert added.isdisjoint(before)
    assert set(USER_FILES) <= set(after)
    # .env is never re-rendered on update (`_skip_if_exists`): it may hold a real password.
    assert after[".env"] == before[".env"]
    assert_tree(after, expected, ignore={".env"} | conflicts)

    for name in conflicts:
        # Nothing is lost: the user's lines are in the conflict, next to the template's.
        text = after[name].decode()
        assert BIO_COLUMN in text
        assert "<<<<<<<" in text
        assert ">>>>>>>" in text


def test_a_real_conflict_is_left_as_markers_that_the_projects_hook_catches(
    workspace: Workspace,
) -> None:
    models = f"src/{PACKAGE}/models.py"
    users_first_line = '"""Our blog: authors, the posts they write and the tags on them.'

    def rewrite_the_models_docstring(project: Path) -> None:
        # The very line that v1.1.0 changes.
        path = project / models
        first, rest = path.read_text(encoding="utf-8").split("\n", 1)
        assert first.startswith('"""')
        path.write_text(f"{users_first_line}\n{rest}", encoding="utf-8")

    project = workspace.user_project(rewrite_the_models_docstring)

    # Conflicts are reported in the files only: the update itself succeeds.
    updated = workspace.copie.update(Result(project_dir=project), vcs_ref=NEW)
    assert updated.exception is None, updated.exception

    assert answers_file(project)["_commit"] == NEW
    assert conflicted_files(project) == {models}
    text = (project / models).read_text(encoding="utf-8")
    assert users_first_line in text
    assert NEW_MODELS_FIRST_LINE in text
    assert BIO_COLUMN in text  # the rest of the user's work merged
    # git knows too: the file is unmerged, so `git commit -a` refuses until it is resolved.
    assert unmerged_paths(project, workspace.env) == {models}

    # The generated project's pre-commit configuration catches leftover markers, also outside
    # a git merge. Run that hook, in the version the project pins, on the conflicted file.
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    (hooks_repo,) = [
        repo for repo in config["repos"] if repo["repo"].endswith("/pre-commit/pre-commit-hooks")
    ]
    (hook,) = [hook for hook in hooks_repo["hooks"] if hook["id"] == "check-merge-conflict"]
    assert "--assume-in-merge" in hook["args"]
    command = [
        uv_executable(),
        "tool",
        "run",
        "-q",
        "--from",
        f"pre-commit-hooks=={hooks_repo['rev'].removeprefix('v')}",
        "check-merge-conflict",
        *hook["args"],
    ]
    caught = run([*command, models], cwd=project, env=workspace.env, check=False)
    assert caught.returncode != 0
    assert "Merge conflict string" in caught.stdout + caught.stderr
    clean = run(
        [*command, "README.md", f"src/{PACKAGE}/services.py"],
        cwd=project,
        env=workspace.env,
        check=False,
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_the_generated_readme_explains_updates(workspace: Workspace) -> None:
    readme = (workspace.render(NEW, {}).path / "README.md").read_text(encoding="utf-8")
    section = readme.partition("## Updating from the template")[2]
    assert section, "the README has no section on updating from the template"
    for phrase in (
        "copier update",
        "--skip-answered",
        ".copier-answers.yml",
        "conflict markers",
        "<<<<<<<",
        "--data session_pattern=",
        "A file you deleted stays deleted",
    ):
        assert phrase in " ".join(section.split()), phrase


# ------------------------------------------------------------------ from older releases

# Two older states of this repository's history, tagged as releases in a scratch clone.
OLDER_RELEASES = {
    "v0.1.0": "d4f665c65eb5d4d5e0063a555617dd7e374aebed",  # server drivers end to end
    "v0.2.0": "37765fd7393729aa7b2f2783e4277fdeac9bd4a4",  # PgBouncer, read replicas
}
CURRENT = "v1.0.0"
GITIGNORE_LINES = "\n# The team's local notes\nnotes/\n"
# The user's files that every release leaves alone (the models, and so the migrations, differ
# between releases).
LASTING_USER_FILES = {
    name: content for name, content in USER_FILES.items() if not name.startswith("migrations/")
}
DELETED_BY_THE_USER = ".pre-commit-config.yaml"


@pytest.fixture(scope="module")
def release_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository with two older commits tagged as releases, and the template
    as it is now committed on top as the newest release."""
    clone = tmp_path_factory.mktemp("history") / "template"
    env = user_env(tmp_path_factory.mktemp("history-home"))
    # Without this repository's own tags: the clone's releases are the ones tagged here.
    git(
        "clone",
        "--quiet",
        "--no-tags",
        str(locate().files),
        str(clone),
        cwd=clone.parent,
        env=env,
    )
    for tag, commit in OLDER_RELEASES.items():
        git("tag", tag, commit, cwd=clone, env=env)
    git("rm", "-r", "--quiet", "copier.yml", "template", cwd=clone, env=env)
    snapshot(clone)
    git_commit_all(clone, env, "The template as it is now")
    git("tag", CURRENT, cwd=clone, env=env)
    return clone


def apply_lasting_user_work(project: Path) -> None:
    """Work that no release of the template touches: new files, an appended ignore rule, and
    a generated file the user deleted."""
    for name, content in LASTING_USER_FILES.items():
        (project / name).write_text(content, encoding="utf-8")
    with (project / ".gitignore").open("a", encoding="utf-8") as gitignore:
        gitignore.write(GITIGNORE_LINES)
    (project / DELETED_BY_THE_USER).unlink()


@pytest.mark.parametrize("release", list(OLDER_RELEASES))
def test_update_from_an_older_release_keeps_every_edit(
    release: str, release_history: Path, copie: Copie, tmp_path: Path
) -> None:
    env = user_env(tmp_path / "home")
    rendered = copie.copy(
        extra_answers={"project_name": PROJECT_NAME}, template_dir=release_history, vcs_ref=release
    )
    project = project_of(rendered).path
    assert answers_file(project)["_commit"] == release
    git_commit_all(project, env, "Generate the project")
    apply_lasting_user_work(project)
    git_commit_all(project, env, "The user's work")

    updated = copie.update(rendered, vcs_ref=CURRENT)

    assert updated.exception is None, updated.exception
    assert answers_file(project)["_commit"] == CURRENT
    assert conflicted_files(project) == set()
    after = files_of(project)
    for name, content in LASTING_USER_FILES.items():
        assert after[name] == content.encode(), f"{name} changed"
    assert after[".gitignore"].decode().endswith(GITIGNORE_LINES)
    # Copier does not bring back a file the user deleted (copier issue 1735).
    assert DELETED_BY_THE_USER not in after
    # ...and the project is the current template's: it installs, lints and passes its tests.
    assert_installs_lints_and_passes(project)


# ------------------------------------------------------------------ primary_key stays

# The tables, the initial migration and every id already stored have the key's type: the
# template refuses to change it, says why, and changes nothing.


@pytest.fixture(params=["integer", "uuid"])
def keyed_project(request: pytest.FixtureRequest, workspace: Workspace) -> tuple[Path, str]:
    """A project generated with `primary_key` = the parameter, committed."""
    project = workspace.render(OLD, {"primary_key": request.param}).path
    git_commit_all(project, workspace.env, "Generate the project")
    return project, request.param


def test_changing_primary_key_is_refused_and_changes_nothing(
    keyed_project: tuple[Path, str], workspace: Workspace
) -> None:
    project, key = keyed_project
    other = "uuid" if key == "integer" else "integer"
    before = files_of(project)

    output = copier_command(
        "update",
        "--defaults",
        "--data",
        f"primary_key={other}",
        cwd=project,
        env=workspace.env,
        check=False,
    )

    assert f'primary_key cannot change from "{key}" to "{other}"' in " ".join(output.split())
    assert "generate a new project" in output
    assert files_of(project) == before
    assert git("status", "--porcelain", cwd=project, env=workspace.env) == ""
    assert answers_file(project)["primary_key"] == key


def test_an_update_that_keeps_primary_key_goes_through(
    keyed_project: tuple[Path, str], workspace: Workspace
) -> None:
    project, key = keyed_project
    output = copier_command("update", "--defaults", cwd=project, env=workspace.env)
    assert "Warning" not in output  # the recorded answers are read only where they exist
    assert answers_file(project)["primary_key"] == key
    assert answers_file(project)["_commit"] == NEW
