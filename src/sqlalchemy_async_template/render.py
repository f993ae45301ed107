"""Render a project from the template: the one implementation behind `sqla-template new`,
`sqla-template matrix` and the template's tests."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import copier

from .matrix import TEMPLATE_ROOT, Combination


def render(
    destination: Path,
    answers: dict[str, Any],
    *,
    template: Path = TEMPLATE_ROOT,
    vcs_ref: str | None = "HEAD",
    quiet: bool = True,
) -> Path:
    """Render the template into `destination` with `answers`, every other question at its
    default, exactly as `copier copy --defaults` does (no `--trust`).

    `vcs_ref="HEAD"` renders the checkout as it is, uncommitted changes included, instead of
    its latest release tag.
    """
    with warnings.catch_warnings():
        # Rendering a checkout with uncommitted changes is what a maintainer wants here.
        warnings.simplefilter("ignore", copier.errors.DirtyLocalWarning)
        copier.run_copy(
            str(template),
            destination,
            data=answers,
            defaults=True,
            unsafe=False,
            vcs_ref=vcs_ref,
            quiet=quiet,
        )
    return destination


def render_combination(
    combination: Combination, destination: Path, *, project_name: str = "Example Service"
) -> Path:
    return render(destination, {"project_name": project_name, **combination.answers()})
