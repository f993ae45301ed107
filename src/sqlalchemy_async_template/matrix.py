"""The combinations to verify, read from copier.yml.

Every choice of the matrix questions (driver x model style x session pattern) is combined with
every other. The further questions (yes/no questions asked for some drivers only, such as
`pgbouncer`, and choices outside the matrix, such as `primary_key`) go into an "optional set":
one combination per driver with each of them at its non-default value.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from .questions import MATRIX_QUESTIONS, Question, asked, choices, dialect_of, question

Answer = str | bool


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
    extra_answers: tuple[tuple[str, Answer], ...] = ()

    @property
    def slug(self) -> str:
        parts = [self.database_driver, self.model_style, self.session_pattern]
        if not self.include_examples:
            parts.append("skeleton")
        parts.extend(
            name if value is True else f"{name}_{value}" for name, value in self.extra_answers
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


def all_combinations() -> list[Combination]:
    """Every combination of the matrix questions, with the example domain included."""
    return [
        Combination(driver, style, pattern)
        for driver, style, pattern in itertools.product(
            *(choices(name) for name in MATRIX_QUESTIONS)
        )
    ]


def optional_questions() -> list[Question]:
    """The questions of the optional set: yes/no questions asked for some drivers only, and
    choices that are not part of the matrix."""
    return [
        q
        for q in asked()
        if q.name not in MATRIX_QUESTIONS
        and ((q.type == "bool" and isinstance(q.when, str)) or q.choices)
    ]


def non_default_answer(q: Question) -> Answer:
    """The answer that switches an optional question away from its default."""
    if q.type == "bool":
        return not q.default
    return [value for value in q.values if value != str(q.default)][-1]


def option_combinations() -> list[Combination]:
    """One combination per driver with every optional question that applies to it at its
    non-default answer, spread over the model styles and session patterns."""
    styles, patterns = choices("model_style"), choices("session_pattern")
    combinations = []
    for index, driver in enumerate(choices("database_driver")):
        extra = tuple(
            (q.name, non_default_answer(q)) for q in optional_questions() if q.asked_for(driver)
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


def skeleton_of(combination: Combination) -> Combination:
    return replace(combination, include_examples=False)


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
        if value not in question(key).values:
            raise MatrixError(
                f"{value!r} is not a choice of {key}: use one of {', '.join(choices(key))}"
            )
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


@dataclass(frozen=True)
class SuiteSlice:
    """A part of the template's own test suite, for one CI runner: the tests that pytest's
    `-k keywords` selects."""

    name: str
    keywords: str


def suite_slices() -> list[SuiteSlice]:
    """The template's suite split by database driver, for CI runners working side by side.

    A test belongs to the first driver that its name or parameters mention, or to the last
    slice when it mentions none, so every test runs in exactly one slice.
    """
    drivers = choices("database_driver")
    slices = [
        SuiteSlice(driver, " and ".join([driver, *(f"not {d}" for d in drivers[:index])]))
        for index, driver in enumerate(drivers)
    ]
    return [*slices, SuiteSlice("no driver", " and ".join(f"not {d}" for d in drivers))]
