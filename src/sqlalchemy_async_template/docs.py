"""The generated parts of the documentation.

A generated part is a marked section of a Markdown file, between `<!-- NAME:start -->` and
`<!-- NAME:end -->`, rewritten from data: the README's table of questions from copier.yml
(`scripts/update-docs`), the figures of `docs/performance.md` from a benchmark run
(`sqla-template bench --markdown`). Everything outside the markers is written by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

from .questions import Question, asked, choices, questions

QUESTIONS_SECTION = "questions"


class MissingSectionError(ValueError):
    """The file has no markers for the section to write."""


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def marked_section(text: str, name: str) -> str:
    """What stands between the markers of section `name` in `text`."""
    start, end = _markers(name)
    found = re.search(re.escape(start) + r"\n(.*?)" + re.escape(end), text, re.DOTALL)
    if found is None:
        raise MissingSectionError(f"no section {name!r}: add the lines {start} and {end}")
    return found.group(1)


def with_section(text: str, name: str, content: str) -> str:
    """`text` with the section `name` replaced by `content`."""
    marked_section(text, name)  # the markers are there
    start, end = _markers(name)
    return re.sub(
        re.escape(start) + r"\n.*?" + re.escape(end),
        lambda _: f"{start}\n{content}{end}",
        text,
        count=1,
        flags=re.DOTALL,
    )


def write_section(path: Path, name: str, content: str) -> bool:
    """Rewrite section `name` of the file at `path`, creating the file with just that section
    if it does not exist; whether anything changed."""
    start, end = _markers(name)
    before = path.read_text(encoding="utf-8") if path.exists() else f"{start}\n{end}\n"
    after = with_section(before, name, content)
    if after != before or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(after, encoding="utf-8")
        return True
    return False


def questions_table() -> str:
    """The questions a user answers, as a Markdown table read from copier.yml."""
    rows = ["| question | asked | answers | default |", "| --- | --- | --- | --- |"]
    for q in asked():
        rows.append(
            f"| `{q.name}`: {_escape(q.help)} | {_asked(q)} | {_answers(q)} | {default_text(q)} |"
        )
    return "\n".join(rows) + "\n"


def _asked(q: Question) -> str:
    drivers = choices("database_driver")
    asked_for = [driver for driver in drivers if q.asked_for(driver)]
    if len(asked_for) == len(drivers):
        return "always"
    return "for " + ", ".join(f"`{driver}`" for driver in asked_for)


def _answers(q: Question) -> str:
    if q.choices:
        return ", ".join(f"`{value}`" for value in q.values)
    if q.type == "bool":
        return "yes, no"
    return "secret text (never recorded)" if q.secret else "text"


def default_text(q: Question) -> str:
    default = q.default
    if isinstance(default, bool):
        return "yes" if default else "no"
    text = str(default)
    if "{{" in text:
        if "_copier_conf.dst_path" in text:
            return "the destination directory's name"
        references = [name for name in questions() if re.search(rf"\b{name}\b", text)]
        return "derived from " + ", ".join(f"`{name}`" for name in references)
    return f"`{text}`" if text else "empty"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def update_readme(readme: Path) -> bool:
    """Rewrite the README's table of questions from copier.yml; whether it changed."""
    return write_section(readme, QUESTIONS_SECTION, questions_table())


if __name__ == "__main__":  # scripts/update-docs
    import sys

    for path in sys.argv[1:]:
        print(f"{path}: {'updated' if update_readme(Path(path)) else 'up to date'}")
