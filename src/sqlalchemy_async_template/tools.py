"""The programs the companion package runs: uv, Copier's command line and git.

None of them has to be on PATH for uv: it comes with this package (the `uv` distribution on
PyPI ships the binary). A program that cannot be found is one `MissingToolError` whose message
says what to install.
"""

from __future__ import annotations

import shutil
import sys
from functools import cache
from pathlib import Path

import uv


class MissingToolError(RuntimeError):
    """A program the command needs is not installed."""


@cache
def uv_executable() -> str:
    """The uv binary installed with this package."""
    try:
        return uv.find_uv_bin()
    except FileNotFoundError as error:  # a broken installation of the `uv` distribution
        raise MissingToolError(
            "uv is missing from this environment: reinstall sqlalchemy-async-template "
            "(it depends on the `uv` package, which ships the binary)"
        ) from error


@cache
def copier_executable() -> str:
    """Copier's own command line, as a user runs it: the one next to this Python first."""
    beside_python = Path(sys.executable).with_name("copier")
    if beside_python.is_file():
        return str(beside_python)
    return require("copier", "install Copier: `uv tool install copier` or `pip install copier`")


def require(program: str, how_to_install: str) -> str:
    """The path of `program` on PATH, or a `MissingToolError` that says how to install it."""
    found = shutil.which(program)
    if found is None:
        raise MissingToolError(f"{program} is not installed: {how_to_install}")
    return found


def require_git() -> str:
    """git: Copier reads templates and updates projects through it."""
    return require("git", "Copier needs it to render and update templates (apt-get install git)")
