"""The combination matrix, read from copier.yml (the single source of truth for questions)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

TEMPLATE_ROOT = Path(__file__).resolve().parents[2]
COPIER_YML = TEMPLATE_ROOT / "copier.yml"

# The questions whose every choice is combined with every other's.
MATRIX_QUESTIONS = ("database_driver", "model_style", "session_pattern")


class MatrixError(ValueError):
    """A selection of combinations that copier.yml does not allow."""


@dataclass(frozen=True, order=True)
class Combination:
    """One set of answers to the questions that shape the generated code."""

    database_driver: str
    model_style: str
    session_pattern: str
    include_examples: bool = True
    # Answers to further questions, as (question, value) pairs, e.g. (("pgbouncer", True),).
    extra_answers: tuple[tuple[str, str | bool], ...] = ()

    @property
    def slug(self) -> str:
        parts = [self.database_driver, self.model_style, self.session_pattern]
        if not self.include_examples:
            parts.append("skeleton")
        parts.extend(
            question if value is True else f"{question}_{value}"
            for question, value in self.extra_answers
        )
        return "-".join(parts)

    @property
    def dialect(self) -> str:
        return dialect_of(self.database_driver)

    def answers(self) -> dict[str, Any]:
        answers: dict[str, Any] = {
            field.name: getattr(self, field.name)
            for field in fields(self)
            if field.name != "extra_answers"
        }
        return answers | dict(self.extra_answers)


@cache
def questions(copier_yml: Path = COPIER_YML) -> dict[str, Any]:
    """copier.yml's questions (settings starting with `_` left out)."""
    with copier_yml.open(encoding="utf-8") as file:
        data: dict[str, Any] = yaml.safe_load(file)
    return {name: spec for name, spec in data.items() if not name.startswith("_")}


def choices(question: str) -> tuple[str, ...]:
    """The values a question accepts, in the order copier.yml lists them."""
    spec = questions()[question]
    options = spec["choices"]
    values = options.values() if isinstance(options, Mapping) else options
    return tuple(str(value) for value in values)


def default(question: str) -> Any:
    return questions()[question]["default"]


def computed(question: str, **context: str) -> str:
    """A computed (`when: false`) value of copier.yml, from its own Jinja expression."""
    expression: str = questions()[question]["default"]
    return jinja2.Environment().from_string(expression).render(**context).strip()


@cache
def dialect_of(driver: str) -> str:
    return computed("db_dialect", database_driver=driver)


@cache
def url_scheme_of(driver: str) -> str:
    """The SQLAlchemy URL scheme of a driver, such as `postgresql+asyncpg`."""
    return computed("url_scheme", database_driver=driver, db_dialect=dialect_of(driver))


def all_combinations() -> list[Combination]:
    """Every combination of the matrix questions, with the example domain included."""
    return [
        Combination(driver, style, pattern)
        for driver, style, pattern in itertools.product(
            *(choices(question) for question in MATRIX_QUESTIONS)
        )
    ]


def optional_questions() -> list[str]:
    """Yes/no questions beyond the matrix that switch extra code on (such as `pgbouncer`),
    asked only for some drivers: those with a `when:` condition."""
    return [
        name
        for name, spec in questions().items()
        if isinstance(spec, dict)
        and spec.get("type") == "bool"
        and isinstance(spec.get("when"), str)
        and name not in MATRIX_QUESTIONS
    ]


def optional_choices() -> list[tuple[str, str]]:
    """Choice questions beyond the matrix that every driver is asked (such as `primary_key`),
    each with its first choice other than the default."""
    return [
        (name, next(value for value in choices(name) if value != spec["default"]))
        for name, spec in questions().items()
        if isinstance(spec, dict)
        and "choices" in spec
        and "when" not in spec
        and name not in MATRIX_QUESTIONS
    ]


def applies_to(question: str, driver: str) -> bool:
    """Whether copier.yml asks `question` of a user who picked `driver`."""
    when: str = questions()[question]["when"]
    rendered = jinja2.Environment().from_string(when).render(database_driver=driver)
    return rendered.strip().lower() == "true"


def option_combinations() -> list[Combination]:
    """One combination per driver with every optional question that applies to it switched
    on and every optional choice away from its default, spread over the model styles and
    session patterns."""
    styles, patterns = choices("model_style"), choices("session_pattern")
    combinations = []
    for index, driver in enumerate(choices("database_driver")):
        extra: tuple[tuple[str, str | bool], ...] = (
            *((q, True) for q in optional_questions() if applies_to(q, driver)),
            *optional_choices(),
        )
        if extra:
            combinations.append(
                Combination(
                    driver,
                    styles[index % len(styles)],
                    patterns[index % len(patterns)],
                    extra_answers=extra,
                )
            )
    return combinations


def parse_selection(selection: Iterable[str]) -> dict[str, set[str]]:
    """Turn `KEY=VALUE` filters into {question: allowed values}; a key may repeat."""
    allowed: dict[str, set[str]] = {}
    for item in selection:
        key, separator, value = item.partition("=")
        if not separator or key not in MATRIX_QUESTIONS:
            raise MatrixError(
                f"{item!r} is not a filter: use KEY=VALUE with KEY one of "
                f"{', '.join(MATRIX_QUESTIONS)}"
            )
        if value not in choices(key):
            raise MatrixError(f"{value!r} is not a choice of {key}: use one of {choices(key)}")
        allowed.setdefault(key, set()).add(value)
    return allowed


def select(selection: Iterable[str] = ()) -> list[Combination]:
    """The combinations, and the option combinations, that pass every `KEY=VALUE` filter."""
    allowed = parse_selection(selection)
    return [
        combination
        for combination in [*all_combinations(), *option_combinations()]
        if all(getattr(combination, key) in values for key, values in allowed.items())
    ]


def skeleton_of(combination: Combination) -> Combination:
    return replace(combination, include_examples=False)
