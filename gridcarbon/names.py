"""Names and codes from users' files: length limits and control characters.

Unit, station, facility and park names and codes end up in HTML, Excel, CSV and terminals.
Escaping at each writer keeps them inert there; this module decides what may enter at all:

- a **code** (an identifier) containing a control or bidirectional-formatting character is
  refused: a code that looks like another is not a code;
- a **name** has such characters cleaned (tab/newline/CR become a space, the rest are
  removed) with one warning naming the field, how many values were cleaned and where the first is;
- a name or code longer than :data:`MAX_NAME_LENGTH` characters is refused before any work
  (a 1 MB name made the zoning stage need gigabytes).

Light: standard library only.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable
from typing import Literal

from gridcarbon.errors import InputDataError

__all__ = ["MAX_NAME_LENGTH", "NameCleanedWarning", "clean_text_values", "has_control"]

#: The longest name or code accepted, in characters.
MAX_NAME_LENGTH = 200

# Bidirectional overrides/isolates and other invisible formatting that can make text display as
# something it is not (Unicode category Cf); ZWJ/ZWNJ are kept, they join scripts legitimately.
_KEEP_FORMAT = {"\u200c", "\u200d"}
_SPACE_LIKE = re.compile(r"[\t\n\r\v\f\x1c-\x1f\x85\u2028\u2029]+")


class NameCleanedWarning(UserWarning):
    """Control or formatting characters were removed from names read from a user's file."""


def _is_control(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat == "Cc" or (cat == "Cf" and ch not in _KEEP_FORMAT)


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control or invisible formatting character."""
    return any(_is_control(ch) for ch in text)


def _clean(text: str) -> str:
    text = _SPACE_LIKE.sub(" ", text)
    return "".join(ch for ch in text if not _is_control(ch)).strip()


def clean_text_values(
    values: Iterable[object],
    *,
    field: str,
    kind: Literal["name", "code"],
    source: str,
    location: Callable[[int], str],
) -> list[object]:
    """Check (codes) or clean (names) the text of one column read from a user's file.

    Parameters
    ----------
    values : iterable
        The column's values; ``None`` and non-strings (e.g. NaN) pass through unchanged.
    field : str
        The column's name as the user's file spells it, for messages.
    kind : {"name", "code"}
        Codes are refused when they hold control characters; names are cleaned.
    source : str
        The file, for messages (e.g. ``"units.shp"``).
    location : callable
        Maps a value's position to where the user finds it (e.g. ``"line 17"``).

    Returns
    -------
    list
        The values, names cleaned.

    Raises
    ------
    InputDataError
        A value is longer than :data:`MAX_NAME_LENGTH`, or a code holds a control character.
    """
    out: list[object] = []
    cleaned: list[int] = []
    for i, value in enumerate(values):
        if not isinstance(value, str):
            out.append(value)
            continue
        if len(value) > MAX_NAME_LENGTH:
            raise InputDataError(
                f"{source}, {location(i)}: the {kind} in field {field!r} is {len(value):,} "
                f"characters long (at most {MAX_NAME_LENGTH}); shorten it"
            )
        if has_control(value):
            if kind == "code":
                raise InputDataError(
                    f"{source}, {location(i)}: the code {value!r} in field {field!r} holds "
                    "control or invisible formatting characters; a code must be plain text — "
                    "correct it in the file"
                )
            cleaned.append(i)
            value = _clean(value)
        out.append(value)
    if cleaned:
        warnings.warn(
            f"{source}: {len(cleaned)} value(s) of field {field!r} held control or invisible "
            f"formatting characters, which were removed (first at {location(cleaned[0])})",
            NameCleanedWarning,
            stacklevel=2,
        )
    return out
