"""The questions of copier.yml, the single source of truth for what a user can answer.

The CLI's options, the combination matrix and the README's table of questions are all read
from here; nothing else repeats the list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
import yaml

from .template import locate

# The questions whose every choice is combined with every other's.
MATRIX_QUESTIONS = ("database_driver", "model_style", "session_pattern")


@dataclass(frozen=True)
class Question:
    """One question as copier.yml states it."""

    name: str
    type: str
    help: str
    default: Any
    choices: Mapping[str, str]  # label -> value, empty for a free answer
    when: str | bool | None
    secret: bool

    @property
    def computed(self) -> bool:
        """A value computed from the answers (`when: false`), never asked."""
        return self.when is False

    @property
    def values(self) -> tuple[str, ...]:
        """The values a choice question accepts, in the order copier.yml lists them."""
        return tuple(self.choices.values())

    def asked_for(self, driver: str) -> bool:
        """Whether a user who picked `driver` is asked this question."""
        if self.when is None or isinstance(self.when, bool):
            return self.when is not False
        rendered = jinja2.Environment().from_string(self.when).render(database_driver=driver)
        return rendered.strip().lower() == "true"


@cache
def questions() -> dict[str, Question]:
    """Every question of copier.yml (its `_` settings left out), in file order."""
    with locate().copier_yml.open(encoding="utf-8") as file:
        data: dict[str, Any] = yaml.safe_load(file)
    return {name: _question(name, spec) for name, spec in data.items() if not name.startswith("_")}


def _question(name: str, spec: Mapping[str, Any]) -> Question:
    options = spec.get("choices") or {}
    if not isinstance(options, Mapping):
        options = {str(value): value for value in options}
    return Question(
        name=name,
        type=str(spec.get("type", "str")),
        help=" ".join(str(spec.get("help", "")).split()),
        default=spec.get("default"),
        choices={str(label): str(value) for label, value in options.items()},
        when=spec.get("when"),
        secret=bool(spec.get("secret", False)),
    )


def question(name: str) -> Question:
    return questions()[name]


def asked() -> list[Question]:
    """The questions a user answers (computed values left out)."""
    return [q for q in questions().values() if not q.computed]


def choices(name: str) -> tuple[str, ...]:
    return question(name).values


def computed(name: str, **context: str) -> str:
    """A computed (`when: false`) value of copier.yml, from its own Jinja expression."""
    expression = str(question(name).default)
    return jinja2.Environment().from_string(expression).render(**context).strip()


@cache
def dialect_of(driver: str) -> str:
    return computed("db_dialect", database_driver=driver)


@cache
def url_scheme_of(driver: str) -> str:
    """The SQLAlchemy URL scheme of a driver, such as `postgresql+asyncpg`."""
    return computed("url_scheme", database_driver=driver, db_dialect=dialect_of(driver))
