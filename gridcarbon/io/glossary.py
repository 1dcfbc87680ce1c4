"""The committed glossary of the people-facing outputs, in English and Chinese.

``gridcarbon/reference/glossary.csv`` holds, for each machine column name (ASCII and the same in
both languages), its label and unit, and the phrases of the zone report and the map.  The zone
report (HTML), the Excel label row and the map's layer names and legends take their words from
here, so that one file says what every output calls a thing.

Column keys may hold ``{sp}`` (a species) and ``{set}`` (a set of co-located species: ``all`` or
names joined by ``_``); :meth:`Glossary.column` resolves a concrete column name against them for
the species of the run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from gridcarbon.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from gridcarbon.species import Species

__all__ = [
    "LANGUAGES",
    "Language",
    "Glossary",
    "ColumnLabel",
    "glossary",
    "check_language",
    "format_number",
]

#: The languages of the outputs.
LANGUAGES: tuple[str, ...] = ("en", "zh")
Language = Literal["en", "zh"]

GLOSSARY_FILE = "glossary.csv"


def check_language(language: str) -> Language:
    """``language`` if it is one of :data:`LANGUAGES`, else a :class:`ConfigError`."""
    if language not in LANGUAGES:
        raise ConfigError(
            f"output language {language!r} is not supported; use one of {', '.join(LANGUAGES)}"
        )
    return language  # type: ignore[return-value]


@dataclass(frozen=True)
class ColumnLabel:
    """A column's label and unit in one language (``unit`` empty when it has none);
    ``full_width``: Chinese text, whose brackets are full-width."""

    text: str
    unit: str
    full_width: bool = False

    def with_unit(self) -> str:
        """``label (unit)`` — in Chinese with full-width brackets — or the label alone."""
        if not self.unit:
            return self.text
        return f"{self.text}（{self.unit}）" if self.full_width else f"{self.text} ({self.unit})"


@lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    path = Path(str(files("gridcarbon") / "reference" / GLOSSARY_FILE))
    return pd.read_csv(path, comment="#", dtype=str, keep_default_na=False, encoding="utf-8")


class Glossary:
    """The glossary in one language, for the species of one run.

    Parameters
    ----------
    language : {"en", "zh"}
    species : sequence of Species
        The run's species: ``{sp}`` in keys matches their names and is shown as their display
        name in ``language``.
    """

    def __init__(self, language: str, species: Sequence[Species] = ()) -> None:
        self.language: Language = check_language(language)
        self.species = tuple(species)
        table = _table()
        rows = {
            kind: table[table["kind"] == kind]
            for kind in ("column", "phrase", "category", "subtype", "emerging", "map", "text")
        }
        self._phrases = dict(zip(rows["phrase"]["key"], rows["phrase"][language], strict=True))
        self._categories = dict(
            zip(rows["category"]["key"], rows["category"][language], strict=True)
        )
        self._subtypes = dict(zip(rows["subtype"]["key"], rows["subtype"][language], strict=True))
        self._emerging = dict(zip(rows["emerging"]["key"], rows["emerging"][language], strict=True))
        self._map_exact: dict[str, str] = {}
        self._map_patterns: list[tuple[re.Pattern[str], str]] = []
        names = [s.name for s in self.species] + [s.display_en for s in self.species]
        names_re = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        names_re = names_re or r"(?!x)x"
        map_fields = {
            "{sp}": f"(?P<sp>{names_re})",
            "{set}": f"(?P<set>(?:{names_re})(?:\\+(?:{names_re}))+)",
            "{n}": r"(?P<n>[\d.,]+)",
        }
        texts = pd.concat([rows["map"], rows["text"]])
        for key, text in zip(texts["en"], texts[language], strict=True):
            if "{" not in key:
                self._map_exact[key] = text
                continue
            regex = "".join(
                map_fields.get(
                    part, f"(?P<{part[1:-1]}>.+?)" if part[:1] == "{" else re.escape(part)
                )
                for part in re.split(r"(\{[a-z]+\})", key)
                if part
            )
            self._map_patterns.append((re.compile(regex), text))
        self._exact: dict[str, tuple[str, str]] = {}
        self._patterns: list[tuple[re.Pattern[str], str, str]] = []
        sp = "|".join(re.escape(s.name) for s in sorted(self.species, key=lambda s: -len(s.name)))
        sp = sp or r"(?!x)x"  # no species: a pattern that never matches
        pattern_of = {
            "{sp}": f"(?P<sp>{sp})",
            "{set}": f"(?P<set>all|(?:{sp})(?:_(?:{sp}))+)",
        }
        unit = f"unit_{language}"
        for key, text, unit_text in zip(
            rows["column"]["key"], rows["column"][language], rows["column"][unit], strict=True
        ):
            if "{" not in key:
                self._exact[key] = (text, unit_text)
                continue
            regex = "".join(pattern_of.get(part, re.escape(part)) for part in _split(key))
            self._patterns.append((re.compile(regex), text, unit_text))

    def species_name(self, species: Species) -> str:
        """The display name of ``species`` in the glossary's language."""
        return species.display_zh if self.language == "zh" else species.display_en

    def set_name(self, stem: str) -> str:
        """A co-location set's display name (``all`` → all species; two species' names joined by ``_`` → their display names joined by ``+``)."""
        if stem == "all":
            return self.phrase("all_species")
        by_name = {s.name: self.species_name(s) for s in self.species}
        sp = "|".join(re.escape(n) for n in sorted(by_name, key=len, reverse=True))
        parts = re.findall(sp, stem) if sp else []
        return "+".join(by_name[p] for p in parts) if parts else stem

    def column(self, name: str) -> ColumnLabel | None:
        """The label and unit of a machine column name, or None when the glossary has none."""
        if name in self._exact:
            return ColumnLabel(*self._exact[name], full_width=self.language == "zh")
        by_name = {s.name: s for s in self.species}
        for regex, text, unit in self._patterns:
            match = regex.fullmatch(name)
            if match is None:
                continue
            found = match.groupdict()
            fields = {}
            if found.get("sp"):
                fields["sp"] = self.species_name(by_name[found["sp"]])
            if found.get("set"):
                fields["set"] = self.set_name(found["set"])
            return ColumnLabel(text.format(**fields), unit, full_width=self.language == "zh")
        return None

    def label(self, name: str) -> str:
        """``name``'s label with its unit (``<species>_kg`` → ``<display name> emission (kg)``); a column the
        glossary lacks keeps its name, with spaces for underscores."""
        found = self.column(name)
        return found.with_unit() if found is not None else name.replace("_", " ")

    def category(self, code: str) -> str:
        """A 三线一单 category (``key_control``) as the language writes it (重点管控)."""
        return self._categories.get(code, code)

    def translate(self, text: str) -> str:
        """A text of the map (a layer name, a legend title) or another people-facing text (a
        units QA finding, a synthetic component) in the glossary's language.

        English texts are the code's own; a text the glossary lacks is returned as it is.
        Species in it are shown by their display names; other parts of a pattern (``{x}``) are
        translated in turn.
        """
        if self.language == "en" or not text:
            return text
        if text in self._map_exact:
            return self._map_exact[text]
        by_name = {s.name: s for s in self.species} | {s.display_en: s for s in self.species}
        for regex, target in self._map_patterns:
            match = regex.fullmatch(text)
            if match is None:
                continue
            fields = {}
            for key, value in match.groupdict().items():
                if key == "sp":
                    fields[key] = self.species_name(by_name[value])
                elif key == "set":
                    fields[key] = "+".join(self.species_name(by_name[v]) for v in value.split("+"))
                elif key in ("n", "a", "b"):
                    fields[key] = value
                else:
                    fields[key] = self.translate(value)
            return target.format(**fields)
        return text

    def components(self, text: str) -> str:
        """A list of synthetic components (``synthetic_components``: parts joined by ``;`` or
        ``,``) in the glossary's language, each part translated (:meth:`translate`).

        >>> glossary("zh").components("station network; meteorology")
        '监测站点网络；气象场'
        """
        if self.language == "en" or not text:
            return text
        # a comma inside parentheses belongs to its part: "observations (OSSE: a, b)"
        parts = [p.strip() for p in re.split(r"[;,](?![^()]*\))", text) if p.strip()]
        return "；".join(self.translate(p) for p in parts)

    def subtype(self, code: str) -> str:
        """A standard unit subtype (``urban_living``) in the language (城镇生活类); a label of a
        user's own (not a standard subtype) is returned as it is."""
        return self._subtypes.get(code, code)

    def emerging(self, category: str) -> str:
        """An emerging-hotspot category (ArcGIS's English name) in the glossary's language."""
        return self._emerging.get(category, category)

    def phrase(self, key: str, **fields: object) -> str:
        """The phrase ``key`` with its format fields filled in (fields it does not name are
        ignored; a missing key: KeyError)."""
        text = self._phrases[key]
        return text.format(**fields) if fields else text


def _split(key: str) -> list[str]:
    """A key in literal parts and placeholders (``coloc_{set}_kg`` → coloc_, {set}, _kg)."""
    return [p for p in re.split(r"(\{sp\}|\{set\})", key) if p]


def glossary(language: str, species: Sequence[Species] = ()) -> Glossary:
    """The :class:`Glossary` in ``language`` for ``species``."""
    return Glossary(language, species)


#: Significant figures of every number the report shows.
SIGNIFICANT_FIGURES = 3


def format_number(value: object, significant: int = SIGNIFICANT_FIGURES) -> str:
    """The one number format of the report: thousands separators and ``significant`` figures.

    Integers (counts) are shown exactly; a missing or non-finite number is an empty string; text
    is shown as it is.

    >>> [format_number(v) for v in (1234567.0, 33224, 2464.4, 0.012345, -5.0, float("nan"))]
    ['1,230,000', '33,224', '2,460', '0.0123', '-5.00', '']
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return ""
    if number == 0:
        return "0"
    exponent = math.floor(math.log10(abs(number)))
    decimals = significant - 1 - exponent
    rounded = round(number, decimals)
    if rounded != 0 and math.floor(math.log10(abs(rounded))) > exponent:  # 999.6 → 1,000
        decimals -= 1
    return f"{rounded:,.{max(decimals, 0)}f}"
