"""Small helpers of the template's tests: rendering with pytest-copie, and driving the plain
`copier` command line and git as a user would."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_copie.plugin import Copie, Result

from sqlalchemy_async_template.matrix import Combination
from sqlalchemy_async_template.project import Project, inherited_environment
from sqlalchemy_async_template.runner import PROJECT_NAME
from sqlalchemy_async_template.template import empty_copier_settings
from sqlalchemy_async_template.tools import copier_executable, uv_executable

Render = Callable[..., Project]
CONFLICT_MARKER = re.compile(r"^(<{7}|>{7})( |$)|^={7}$", re.MULTILINE)
ANSI_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


# --- pytest-copie ---------------------------------------------------------------------------


def project_of(result: Result) -> Project:
    """The project pytest-copie rendered, or the error that stopped it."""
    if result.exception is not None:
        raise result.exception
    assert result.project_dir is not None
    return Project(result.project_dir)


def render_with(copie: Copie, combination: Combination, **answers: Any) -> Project:
    """Render `combination` (plus `answers`) with a pytest-copie fixture."""
    return project_of(
        copie.copy(extra_answers={"project_name": PROJECT_NAME, **combination.answers(), **answers})
    )


# --- the command line, as a user runs it ----------------------------------------------------


def user_env(home: Path) -> dict[str, str]:
    """The environment of a user with no Copier settings and no git configuration of their own:
    the developer's ~/.config/copier/settings.yml and ~/.gitconfig must not leak into a test."""
    home.mkdir(parents=True, exist_ok=True)
    # The tests' own virtual environment and database settings are not the user's.
    env = inherited_environment()
    env.update(
        empty_copier_settings(home),
        GIT_CONFIG_GLOBAL=str(home / "gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test User",
        GIT_AUTHOR_EMAIL="user@example.com",
        GIT_COMMITTER_NAME="Test User",
        GIT_COMMITTER_EMAIL="user@example.com",
    )
    (home / "gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n", encoding="utf-8"
    )
    return env


def run(
    command: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    check: bool = True,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on an unexpected failure, show everything it printed."""
    result = subprocess.run(
        list(command),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} exited {result.returncode} in {cwd}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def copier(*arguments: str, cwd: Path, env: dict[str, str], check: bool = True) -> str:
    """`copier ARGUMENTS...` as a user types it (no `--trust`); returns what it printed."""
    result = run([copier_executable(), *arguments], cwd=cwd, env=env, check=check)
    return result.stdout + result.stderr


def data_options(answers: dict[str, object]) -> list[str]:
    """`--data KEY=VALUE` options for the copier command line."""
    options: list[str] = []
    for key, value in answers.items():
        options += ["--data", f"{key}={value}"]
    return options


def git(*arguments: str, cwd: Path, env: dict[str, str]) -> str:
    return run(["git", *arguments], cwd=cwd, env=env).stdout


def git_commit_all(project: Path, env: dict[str, str], message: str) -> None:
    """Commit everything in `project`, creating the repository on first use."""
    if not (project / ".git").exists():
        git("init", "-q", cwd=project, env=env)
    git("add", "-A", cwd=project, env=env)
    git("commit", "-q", "--allow-empty", "-m", message, cwd=project, env=env)


def files_of(root: Path) -> dict[str, bytes]:
    """Every file under `root` (git's own directory left out), by POSIX path, with its bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def conflicted_files(root: Path) -> set[str]:
    """Files holding merge conflict markers, plus any `*.rej` patch leftovers."""
    found: set[str] = set()
    for name, content in files_of(root).items():
        if name.endswith(".rej"):
            found.add(name)
            continue
        text = content.decode("utf-8", errors="replace")
        if CONFLICT_MARKER.search(text):
            found.add(name)
    return found


def strip_ansi(text: str) -> str:
    return ANSI_ESCAPE.sub("", text).replace("\r", "")


def squeeze(text: str) -> str:
    """`text` without any white space: a terminal may wrap a long line anywhere."""
    return re.sub(r"\s+", "", text)


ZIZMOR = "zizmor>=1.32,<2"


def zizmor_findings(path: Path, tmp_path: Path) -> str:
    """What zizmor, GitHub Actions' security linter, reports on `path`, offline; asserts it
    exited 0 and found nothing."""
    zizmor = [uv_executable(), "tool", "run", "--quiet", "--from", ZIZMOR, "zizmor"]
    completed = run(
        [*zizmor, "--offline", str(path)],
        cwd=tmp_path,
        env=user_env(tmp_path / "home"),
        check=False,
        timeout=600,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "No findings to report" in output, output
    return output
