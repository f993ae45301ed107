"""The template's own sources: `.jinja` exactly on the files that hold Jinja, every template
compiles the way Copier compiles it, and no import line is assembled from conditionals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from copier._main import Worker

from sqlalchemy_async_template.template import locate

TEMPLATE = locate().files / "template"
JINJA_SYNTAX = re.compile(r"\{\{|\{%|\{#")
IMPORT_LINE = re.compile(r"^\s*(from\s+\S+\s+import|import)\s")
INLINE_CONDITION = re.compile(r"\{%|\{\{[^}]*\bif\b")
JINJA_TAG = re.compile(r"\{%.*?%\}")


def template_files() -> list[Path]:
    return sorted(path for path in TEMPLATE.rglob("*") if path.is_file())


def python_templates() -> list[Path]:
    """Every template of a Python file, whatever Jinja its name holds (`x.py.jinja`,
    `{% if ... %}x.py{% endif %}.jinja`, `{% if ... %}x.py{% endif %}`)."""
    return [
        path
        for path in template_files()
        if JINJA_TAG.sub("", path.name).removesuffix(".jinja").endswith(".py")
    ]


def relative(path: Path) -> str:
    return path.relative_to(TEMPLATE).as_posix()


@pytest.mark.parametrize("path", template_files(), ids=relative)
def test_jinja_suffix_iff_jinja_inside(path: Path) -> None:
    holds_jinja = bool(JINJA_SYNTAX.search(path.read_text(encoding="utf-8")))
    assert path.name.endswith(".jinja") == holds_jinja, (
        f"{relative(path)}: {'add' if holds_jinja else 'drop'} the .jinja suffix"
    )


# Copier clones the working tree, uncommitted changes included.
@pytest.mark.filterwarnings("ignore::copier.errors.DirtyLocalWarning")
def test_every_template_compiles_as_copier_compiles_it() -> None:
    """Copier compiles a template under its own path, which may hold quotes (conditional file
    names): Jinja then writes some expressions, an inline `if` without `else`, into invalid
    Python. Compiling every file the same way finds them before a user does."""
    environment = Worker(src_path=str(locate().files), dst_path=Path("unused")).jinja_env
    failures = []
    for path in template_files():
        if not path.name.endswith(".jinja"):
            continue
        name = f"template/{relative(path)}"
        try:
            compile(
                environment.compile(path.read_text(encoding="utf-8"), name, name, raw=True),
                name,
                "exec",
            )
        except SyntaxError as error:
            failures.append(f"{name}: {error.msg} (compiled line {error.lineno})")
    assert failures == []


def test_every_python_template_is_checked() -> None:
    names = {relative(path) for path in python_templates()}
    assert "src/{{package_name}}/db.py.jinja" in names
    assert "tests/{% if pgbouncer %}test_pgbouncer.py{% endif %}" in names
    assert len(names) > len([n for n in names if n.endswith(".py.jinja")])


@pytest.mark.parametrize("path", python_templates(), ids=relative)
def test_no_import_line_is_assembled_from_conditionals(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assembled = [
        line for line in lines if IMPORT_LINE.match(line) and INLINE_CONDITION.search(line)
    ]
    assert assembled == [], "write each variant as a whole line under {% if %}"
