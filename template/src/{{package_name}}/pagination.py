"""Pages of a list, by OFFSET or after a cursor (keyset pagination).

An OFFSET page (`offset`, `limit`) can jump anywhere and comes with the list's total, but the
database reads and skips every row before it, and rows move between pages while others insert
or delete. A keyset page continues after the last row of the previous one (`WHERE key > last
key ORDER BY key`): the index finds its first row at once, however deep the page, and a row
that exists the whole time is seen exactly once. Every page carries `next_cursor`, the opaque
position after its last row, to continue by keyset.

A cursor is URL-safe base64 of a small JSON document: the format's version, the list it
belongs to, and the last row's sort key. It is not signed: it is a position, not a secret, and
a client that edits one only moves in the list. `decode_cursor` refuses anything that it did
not write for the same list, with `InvalidCursor`.
"""

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

from .column_types import MAX_INTEGER

ItemT = TypeVar("ItemT")

# One value of a sort key, as a cursor holds it.
KeyValue = int | str | UUID

CURSOR_VERSION = 1
MAX_CURSOR_LENGTH = 512
BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
# No string in a key holds a control character.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


class InvalidCursor(ValueError):
    """A cursor this list did not hand out: malformed, edited, or from another list."""


@dataclass(frozen=True)
class Page(Generic[ItemT]):
    """One page of a list in a stable order.

    `next_cursor` continues after the last item (None on the last page). `total` and `offset`
    belong to OFFSET pages; a page read after a cursor leaves them None, because counting
    every row would cost what keyset pagination saves.
    """

    items: Sequence[ItemT]
    limit: int
    next_cursor: str | None
    total: int | None = None
    offset: int | None = None


def page_of(
    rows: Sequence[ItemT],
    limit: int,
    list_name: str,
    key: Callable[[ItemT], Sequence[KeyValue]],
    *,
    total: int | None = None,
    offset: int | None = None,
) -> Page[ItemT]:
    """The page of `rows`, read with `LIMIT limit + 1`: an extra row only says that more
    follow, and the cursor continues after the last row kept (`key` gives its sort key)."""
    items = rows[:limit]
    next_cursor = encode_cursor(list_name, key(items[-1])) if len(rows) > len(items) > 0 else None
    return Page(items, limit, next_cursor, total, offset)


def encode_cursor(list_name: str, key: Sequence[KeyValue]) -> str:
    """The cursor that continues `list_name` after the row whose sort key is `key`."""
    values = [str(value) if isinstance(value, UUID) else value for value in key]
    document = json.dumps({"v": CURSOR_VERSION, "list": list_name, "after": values})
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, list_name: str, key_types: Sequence[type]) -> tuple[KeyValue, ...]:
    """The sort key held by `cursor`, one value of each of `key_types` (int, str or UUID).

    Raises `InvalidCursor` unless `cursor` is exactly what `encode_cursor` writes for
    `list_name` and a key of these types.
    """
    if len(cursor) > MAX_CURSOR_LENGTH or not BASE64URL.fullmatch(cursor):
        raise InvalidCursor("the cursor is not URL-safe base64 of a known length")
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursor("the cursor does not hold a JSON document") from error
    if not isinstance(document, dict) or set(document) != {"v", "list", "after"}:
        raise InvalidCursor("the cursor does not hold a position")
    if document["v"] != CURSOR_VERSION or document["list"] != list_name:
        raise InvalidCursor(f"the cursor does not belong to this version of {list_name}")
    values = document["after"]
    if not isinstance(values, list) or len(values) != len(key_types):
        raise InvalidCursor("the cursor holds a key of another length")
    key = tuple(
        _key_value(value, key_type) for value, key_type in zip(values, key_types, strict=True)
    )
    if encode_cursor(list_name, key) != cursor:  # one spelling per position, no other
        raise InvalidCursor("the cursor is not written as this list writes its cursors")
    return key


def _key_value(value: object, key_type: type) -> KeyValue:
    if key_type is int and type(value) is int and 1 <= value <= MAX_INTEGER:
        return value
    if key_type is str and isinstance(value, str) and not CONTROL_CHARACTER.search(value):
        return value
    if key_type is UUID and isinstance(value, str):
        try:
            return UUID(value)
        except ValueError as error:
            raise InvalidCursor("the cursor holds a malformed UUID") from error
    raise InvalidCursor(f"the cursor holds {type(value).__name__}, not {key_type.__name__}")
