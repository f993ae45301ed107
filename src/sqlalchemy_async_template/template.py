"""Where the template is, wherever this package runs from.

- In a checkout of the template's repository: the checkout itself, uncommitted changes
  included (`HEAD`), so a maintainer renders what they are editing.
- Installed as a tool from a local checkout (`uv tool install /path/to/checkout`): that
  checkout, so the projects it renders can later `copier update` from it.
- Installed from a git URL (`uv tool install git+https://...`): that repository at the installed
  commit, so `copier update` works from the same place.
- Otherwise: the copy of `copier.yml` and `template/` bundled in the package. Copier renders it
  all the same; only `copier update` needs a git source, which `sqla-template new --template`
  can name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

PACKAGE_DIR = Path(__file__).resolve().parent
# The wheel carries copier.yml and template/ here (see pyproject.toml).
BUNDLED = PACKAGE_DIR / "_template"
DISTRIBUTION = "sqlalchemy-async-template"
TEMPLATE_FILES = ("copier.yml", "template")
# Files of a git working tree, committed or not, that git does not ignore.
GIT_LS_WORKING_TREE = ("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")


@dataclass(frozen=True)
class TemplateSource:
    """What Copier renders: a path or git URL (`location`) at a revision (`revision`, None for
    a plain directory), and a local directory holding its `copier.yml` (`files`)."""

    location: str
    revision: str | None
    files: Path

    @property
    def copier_yml(self) -> Path:
        return self.files / "copier.yml"


def is_template_checkout(directory: Path) -> bool:
    return (directory / "copier.yml").is_file() and (directory / "template").is_dir()


@cache
def locate() -> TemplateSource:
    """The template this package renders (see the module's docstring for the order)."""
    checkout = PACKAGE_DIR.parents[1]
    if is_template_checkout(checkout):
        return TemplateSource(str(checkout), "HEAD", checkout)
    installed_from = _installed_from()
    if installed_from is not None:
        return installed_from
    return TemplateSource(str(BUNDLED), None, BUNDLED)


def _installed_from() -> TemplateSource | None:
    """The source this package was installed from, when it can serve Copier (PEP 610)."""
    try:
        direct_url = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if direct_url is None:
        return None  # installed from an index: only the bundled copy is at hand
    origin = json.loads(direct_url)
    url = str(origin.get("url", ""))
    vcs = origin.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and BUNDLED.is_dir():
        return TemplateSource(f"git+{url}", str(vcs.get("commit_id") or "HEAD"), BUNDLED)
    parsed = urlparse(url)
    if parsed.scheme == "file" and "dir_info" in origin:
        directory = Path(unquote(parsed.path))
        if is_template_checkout(directory) and (directory / ".git").exists():
            return TemplateSource(str(directory), "HEAD", directory)
    return None


def snapshot(destination: Path, source: TemplateSource | None = None) -> Path:
    """Copy the template's files (`copier.yml` and `template/`) to `destination`: in a git
    checkout the files git tracks or would track (nothing it ignores), as they are on disk."""
    source = source or locate()
    for relative in _template_files(source):
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source.files / relative, target)
    return destination


def _template_files(source: TemplateSource) -> list[str]:
    if (source.files / ".git").exists():
        listing = subprocess.run(
            [*GIT_LS_WORKING_TREE, "--", *TEMPLATE_FILES],
            cwd=source.files,
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
        # A tracked file deleted in the working tree is left out.
        return [name for name in listing.split("\0") if (source.files / name).is_file()]
    files = (source.files / "template").rglob("*")
    rendered = sorted(path for path in files if path.is_file() and "__pycache__" not in path.parts)
    return ["copier.yml", *(path.relative_to(source.files).as_posix() for path in rendered)]


def empty_copier_settings(directory: Path) -> dict[str, str]:
    """Environment variables that give Copier an empty settings file in `directory`, so the
    user's own `~/.config/copier/settings.yml` (defaults, trusted templates) stays out."""
    directory.mkdir(parents=True, exist_ok=True)
    settings = directory / "copier-settings.yml"
    settings.write_text("{}\n", encoding="utf-8")
    return {"COPIER_SETTINGS_PATH": str(settings)}


@contextmanager
def isolated_copier_settings(directory: Path) -> Iterator[None]:
    """`empty_copier_settings` for Copier running in this process."""
    variables = empty_copier_settings(directory)
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
