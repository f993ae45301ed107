"""Small helpers for the tests that drive the plain `copier` command line and git, as a user
would (test_update.py, test_answers.py, test_prompts.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy_async_template.matrix import TEMPLATE_ROOT

# The `copier` console script of the environment running the tests: the plain command line,
# never given `--trust`.
COPIER = str(Path(sys.executable).with_name("copier"))
if not Path(COPIER).is_file():  # pragma: no cover - an environment without the script
    COPIER = shutil.which("copier") or "copier"

CONFLICT_MARKER = re.compile(r"^(<{7}|>{7})( |$)|^={7}$", re.MULTILINE)
# Files in the working tree, committed or not, but not git-ignored.
GIT_LS_WORKING_TREE = ("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
ANSI_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


def user_env(home: Path) -> dict[str, str]:
    """The environment of a user with no Copier settings and no git configuration of their own:
    the developer's ~/.config/copier/settings.yml and ~/.gitconfig must not leak into a test."""
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "copier-settings.yml"
    settings.write_text("{}\n", encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        # The tests' own virtual environment is not the generated project's.
        if key not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH"}
    }
    env.update(
        COPIER_SETTINGS_PATH=str(settings),
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
    result = run([COPIER, *arguments], cwd=cwd, env=env, check=check)
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


def snapshot_template(destination: Path) -> Path:
    """Copy the template as it is in the working tree (committed or not, but not git-ignored)
    to `destination`: what Copier needs, `copier.yml` and `template/`."""
    listing = subprocess.run(
        [*GIT_LS_WORKING_TREE, "--", "copier.yml", "template"],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    for name in filter(None, listing.split("\0")):
        source = TEMPLATE_ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is left out
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def strip_ansi(text: str) -> str:
    return ANSI_ESCAPE.sub("", text).replace("\r", "")


def squeeze(text: str) -> str:
    """`text` without any white space: a terminal may wrap a long line anywhere."""
    return re.sub(r"\s+", "", text)
