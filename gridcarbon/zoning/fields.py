"""Which field of a control-unit table feeds each standard column, and why.

Fields are recognised by the committed table ``gridcarbon/reference/control_unit_fields.csv`` (the
三线一单 field codes such as HJGKDYBM, the Chinese names of local exports, and both as Shapefile
exports cut them at 10 bytes).  A name that fits several columns (环境管控单 is the cut of
环境管控单元编码 *and* 环境管控单元名称) is resolved by the field's values: codes look like ``ZH``
+ 11 digits, categories are known labels, names are free text; never by order.  Pure: the field
table is read through :mod:`gridcarbon.io.units_file`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridcarbon.config.zoning import DEFAULT_CATEGORY_VALUES, DEFAULT_SUBTYPE_VALUES, ZoningConfig
from gridcarbon.errors import InputDataError
from gridcarbon.io.units_file import field_table

__all__ = ["FieldMapping", "label_key", "label_lookup", "map_fields", "text_values"]

#: A 三线一单 unit code: ZH + 6-digit county code + category digit + 4-digit sequence.
_UNIT_CODE_RE = re.compile(r"^ZH\d{11}$")
_ADMIN_CODE_RE = re.compile(r"^\d{6}(\d{3}|\d{6})?$")
_NUMBER_RE = re.compile(r"^[+-]?\d+(\.\d+)?$")


def label_key(value: str) -> str:
    """A label compared without spaces, underscores, hyphens and case."""
    return re.sub(r"[\s_\-]+", "", value).casefold()


def label_lookup(defaults: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """Source label → standard value, keyed by :func:`label_key` (``extra`` wins)."""
    return {label_key(k): v for k, v in {**defaults, **extra}.items()}


def text_values(values: pd.Series) -> np.ndarray:
    """A column as stripped strings ('' where missing); whole-number floats lose their '.0'."""
    if pd.api.types.is_float_dtype(values):
        finite = values.dropna()
        if len(finite) and bool(np.all(np.mod(finite.to_numpy(), 1) == 0)):
            values = values.astype("Int64")
    return values.astype("string").str.strip().fillna("").to_numpy(dtype=object)


@dataclass(frozen=True)
class _Profile:
    """What a field's values look like (empty values ignored)."""

    n: int
    rows: int
    unit_codes: bool
    admin_codes: bool
    numbers: bool
    category_share: float
    subtype_labels: bool
    unique: bool
    spaced: bool

    @classmethod
    def of(cls, texts: np.ndarray, categories: dict[str, str], subtypes: dict[str, str]):
        values = [v for v in texts if v and v.lower() not in ("nan", "none", "null")]
        n = len(values)
        keys = [label_key(v) for v in values]
        return cls(
            n=n,
            rows=len(texts),
            unit_codes=n > 0 and all(_UNIT_CODE_RE.match(v) for v in values),
            admin_codes=n > 0 and all(_ADMIN_CODE_RE.match(v) for v in values),
            numbers=n > 0 and all(_NUMBER_RE.match(v) for v in values),
            category_share=sum(k in categories for k in keys) / n if n else 0.0,
            subtype_labels=n > 0 and all(k in subtypes for k in keys),
            unique=len(set(values)) == n,
            spaced=any(re.search(r"\s", v) for v in values),
        )

    @property
    def text(self) -> bool:
        return self.n > 0 and not (self.unit_codes or self.numbers or self.category_share == 1)

    def fit(self, column: str) -> int:
        """How well the values fit a standard column: 2 = its signature, 1 = plausible, 0 = not."""
        if self.n == 0:
            return 0
        if column == "unit_code":
            if self.unit_codes:
                return 2
            plausible = self.unique and self.n == self.rows and not self.spaced
            return int(plausible and self.category_share < 1)
        if column == "category":
            return 2 if self.category_share == 1 else int(self.category_share >= 0.5)
        if column == "subtype":
            return 2 if self.subtype_labels and self.category_share < 1 else int(self.text)
        if column in ("county_code", "city_code"):
            return 2 if self.admin_codes else 0
        return int(self.text)  # names: free text

    def describe(self) -> str:
        if self.n == 0:
            return "no values"
        if self.unit_codes:
            return "values are unit codes (ZH + 11 digits)"
        if self.category_share == 1:
            return "values are category labels"
        if self.admin_codes:
            return "values are administrative codes"
        if self.subtype_labels:
            return "values are subtype labels"
        if self.numbers:
            return "values are numbers"
        return "values are free text"


@dataclass
class FieldMapping:
    """Which source field feeds each standard column, and why.

    Attributes
    ----------
    columns : dict
        Standard column → source field.
    evidence : dict
        Standard column → how the field was chosen.
    rejected : dict
        Source field → why a name match was not used (its values fit no column it could be).
    """

    columns: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)


def _name_evidence(row: Any) -> str:
    if row.form == "name":
        return f"field name ({row.source})"
    return f"field name: {row.of} cut at the DBF 10-byte limit"


def _components(candidates: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Groups of fields linked by a standard column they could both be (sorted, for messages)."""
    groups: list[tuple[set[str], set[str]]] = []
    for name, columns in candidates.items():
        linked = [g for g in groups if g[1] & set(columns)]
        fields, cols = {name}, set(columns)
        for g in linked:
            fields |= g[0]
            cols |= g[1]
            groups.remove(g)
        groups.append((fields, cols))
    return [sorted(g[0]) for g in groups]


def map_fields(
    table: pd.DataFrame, config: ZoningConfig | None = None, source: str = "the control units"
) -> FieldMapping:
    """Map the fields of a control-unit table onto gridcarbon's standard columns.

    Fields named in ``config.column_map`` are used as given.  Others are looked up (case-
    insensitively) in the committed field table ``gridcarbon/reference/control_unit_fields.csv``:
    the 三线一单 field codes (HJGKDYBM ...), the Chinese names of local exports, and both as
    Shapefile exports cut them at 10 bytes.  A field named exactly as a standard column takes it.
    When a name fits several columns, or several fields fit one column, the fields' values decide:
    unit codes look like ``ZH`` + 11 digits, categories are known labels, names are free text.
    The order of fields or of the table's rows never decides.

    Parameters
    ----------
    table : DataFrame
        The attribute table (a geometry column is ignored).
    config : ZoningConfig, optional
        ``column_map``, ``category_values`` and ``subtype_values`` are used.
    source : str
        The file, for messages.

    Returns
    -------
    FieldMapping

    Raises
    ------
    InputDataError
        A ``column_map`` field the table does not have, or fields whose names and values fit
        more than one assignment (the message lists them and asks for ``zoning.column_map``).
    """
    cfg = config or ZoningConfig()
    geometry = table.geometry.name if isinstance(table, gpd.GeoDataFrame) else None
    fields = [str(c) for c in table.columns if c != geometry]
    mapping = FieldMapping()
    for column, name in cfg.column_map.items():
        match = [f for f in fields if f == name] or [
            f for f in fields if f.strip().casefold() == name.strip().casefold()
        ]
        if not match:
            raise InputDataError(
                f"{source}: zoning.column_map maps {column} to field {name!r}, which is not "
                f"among the fields {fields}; correct zoning.column_map"
            )
        mapping.columns[column] = match[0]
        mapping.evidence[column] = "zoning.column_map"
    known = field_table()
    keys = known["field"].str.casefold()
    candidates: dict[str, dict[str, Any]] = {}
    for name in fields:
        if name in mapping.columns.values():
            continue
        rows = known[keys == name.strip().casefold()]
        columns = {r.column: r for r in rows.itertuples() if r.column not in mapping.columns}
        if name.strip().casefold() in columns:  # named exactly as a standard column
            column = name.strip().casefold()
            mapping.columns[column] = name
            mapping.evidence[column] = "standard column name"
        elif columns:
            candidates[name] = columns
    candidates = {
        f: {c: r for c, r in cols.items() if c not in mapping.columns}
        for f, cols in candidates.items()
    }
    candidates = {f: cols for f, cols in candidates.items() if cols}
    if not candidates:
        return mapping
    categories = label_lookup(DEFAULT_CATEGORY_VALUES, cfg.category_values)
    subtypes = label_lookup(DEFAULT_SUBTYPE_VALUES, cfg.subtype_values)
    subtypes.pop("", None)
    texts = {f: text_values(table[f]) for f in candidates}
    profiles = {f: _Profile.of(texts[f], categories, subtypes) for f in candidates}
    for group in _components(candidates):
        if len(group) == 1 and len(candidates[group[0]]) == 1:
            (column, row), name = next(iter(candidates[group[0]].items())), group[0]
            mapping.columns[column] = name
            mapping.evidence[column] = _name_evidence(row)
            continue
        _resolve_by_values(group, candidates, profiles, texts, mapping, source)
    return mapping


def _resolve_by_values(
    group: list[str],
    candidates: dict[str, dict[str, Any]],
    profiles: dict[str, _Profile],
    texts: dict[str, np.ndarray],
    mapping: FieldMapping,
    source: str,
) -> None:
    """Assign fields whose names are ambiguous by how well their values fit each column."""
    options = [[c for c in sorted(candidates[f]) if profiles[f].fit(c) > 0] + [None] for f in group]
    if np.prod([len(o) for o in options], dtype=float) > 2e5:
        raise InputDataError(
            f"{source}: too many fields ({', '.join(group)}) could be the same columns; name "
            "them with zoning.column_map"
        )
    best, ties = 0, []
    for combo in itertools.product(*options):
        chosen = [c for c in combo if c is not None]
        if len(chosen) != len(set(chosen)):
            continue
        score = sum(profiles[f].fit(c) for f, c in zip(group, combo, strict=True) if c)
        if score > best:
            best, ties = score, [combo]
        elif score == best and score > 0:
            ties.append(combo)
    if not ties:
        for f in group:
            mapping.rejected[f] = (
                f"name fits {', '.join(sorted(candidates[f]))}, but {profiles[f].describe()}"
            )
        return
    # Tied assignments that feed every column the same values are one and the same answer.
    outcomes = {
        frozenset((c, tuple(texts[f])) for f, c in zip(group, combo, strict=True) if c)
        for combo in ties
    }
    if len(outcomes) > 1:
        # name only the fields the tied answers disagree about
        open_fields = [(k, f) for k, f in enumerate(group) if len({combo[k] for combo in ties}) > 1]
        described = "; ".join(
            f"{f!r} (name fits {', '.join(sorted(candidates[f]))}; {profiles[f].describe()})"
            for _, f in open_fields
        )
        example = ", ".join(
            f"{ties[0][k]}: {f!r}" for k, f in open_fields if ties[0][k] is not None
        )
        raise InputDataError(
            f"{source}: cannot tell which field is which: {described}; name them with "
            f"zoning.column_map, e.g. {{{example}}}"
        )
    for f, column in zip(group, ties[0], strict=True):
        if column is None:
            mapping.rejected[f] = (
                f"name fits {', '.join(sorted(candidates[f]))}, but another field fits better"
            )
            continue
        row = candidates[f][column]
        mapping.columns[column] = f
        mapping.evidence[column] = f"{_name_evidence(row)}; {profiles[f].describe()}"
