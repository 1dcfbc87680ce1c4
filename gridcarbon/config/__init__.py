"""A run's configuration: typed, validated, YAML in and out.

The defaults are the embedded Zhejiang scenario.  Each stage owns its own section
(``grid``, ``prior``, ``inversion``, ``zoning``, ``maps``); every value has a documented default.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.config.maps import MapConfig
from gridcarbon.config.synergy import SynergyConfig
from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.errors import ConfigError, InputFileError
from gridcarbon.species import DEFAULT_SPECIES, Species, resolve_species

__all__ = [
    "RunConfig",
    "GridConfig",
    "PriorConfig",
    "PeriodConfig",
    "SPECIES",
    "SECTORS",
    "FIRST_YEAR",
    "LAST_YEAR",
    "MIN_CELL_SIZE_M",
    "load_config",
]

#: Inventory years gridcarbon accepts (its calendars, profiles and time stamps cover them).
FIRST_YEAR, LAST_YEAR = 1900, 2100

#: The finest grid gridcarbon accepts, metres.  Its proxies (0.05° land cover, city census
#: totals) and the plume operator are built for a 3 km grid; below this the cells only split the
#: same information while memory grows with the square of the refinement.
MIN_CELL_SIZE_M = 500.0

#: Species of the default run, by name (the values are in :mod:`gridcarbon.species`).
SPECIES: tuple[str, ...] = tuple(s.name for s in DEFAULT_SPECIES)

#: Emission sectors of the prior inventory.
SECTORS: tuple[str, ...] = (
    "power",
    "industry_petrochemical",
    "industry_cement",
    "industry_steel",
    "industry_chemical",
    "industry_textile",
    "industry_paper",
    "industry_other",
    "residential_commercial",
    "road_transport",
    "shipping_ports",
    "solvent_use",
    "agriculture",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


class GridExtent(_Section):
    """An explicit grid extent in the grid CRS (metres)."""

    x_min: float = Field(description="western edge, metres")
    y_max: float = Field(description="northern edge, metres")
    nx: int = Field(gt=0, description="columns")
    ny: int = Field(gt=0, description="rows")


class GridConfig(_Section):
    """The 3 km grid."""

    cell_size_m: float = Field(3000.0, gt=0, description="cell edge, metres (at least 500)")
    buffer_m: float = Field(
        0.0, ge=0, description="margin around the region (land + territorial sea), metres"
    )
    crs: str | None = Field(
        None,
        description="projected equal-area CRS (EPSG code, PROJ string or WKT); "
        "None = Albers equal-area on CGCS2000, standard parallels 27.5N/30.5N, centre 29N 120.5E",
    )
    territorial_sea_m: float = Field(
        22224.0, ge=0, description="seaward buffer of the land standing for the territorial sea"
    )
    extent: GridExtent | None = Field(
        None,
        description="an explicit grid (x_min, y_max, nx, ny in the grid CRS); None = the region's "
        "bounding box plus buffer_m",
    )

    @field_validator("cell_size_m")
    @classmethod
    def _not_too_fine(cls, v: float) -> float:
        if 0 < v < MIN_CELL_SIZE_M:
            raise ValueError(
                f"{v:g} m is below {MIN_CELL_SIZE_M:g} m: gridcarbon is a 3 km model (its proxies "
                "and plume operator carry no information at finer scales, and memory grows with "
                "the square of the refinement); use 3000 (the default) or at least 500"
            )
        return v

    @classmethod
    def from_gridspec(cls, spec: Any, **kwargs: Any) -> GridConfig:
        """The config section that reproduces ``spec`` (a :class:`GridSpec`) exactly."""
        return cls(
            cell_size_m=spec.cell_size,
            crs=spec.crs_wkt,
            extent=GridExtent(x_min=spec.x_min, y_max=spec.y_max, nx=spec.nx, ny=spec.ny),
            **kwargs,
        )


class PeriodConfig(_Section):
    """The period to grid, in Beijing dates (inclusive), inside one inventory year."""

    start: dt.date = Field(dt.date(2023, 1, 1), description="first Beijing day")
    end: dt.date = Field(dt.date(2023, 1, 31), description="last Beijing day (inclusive)")

    @model_validator(mode="after")
    def _check(self) -> PeriodConfig:
        for day in (self.start, self.end):
            if not FIRST_YEAR <= day.year <= LAST_YEAR:
                raise ValueError(
                    f"{day} is outside the years gridcarbon models ({FIRST_YEAR}-{LAST_YEAR})"
                )
        if self.end < self.start:
            raise ValueError(f"period end {self.end} is before start {self.start}")
        if self.end.year != self.start.year:
            raise ValueError(
                f"period {self.start}..{self.end} spans two inventory years; "
                "run one Beijing calendar year at a time"
            )
        return self

    @property
    def year(self) -> int:
        """The inventory (Beijing calendar) year."""
        return self.start.year


class PriorConfig(_Section):
    """The prior inventory."""

    point_sources_csv: Path | None = Field(
        None,
        description="user point-source CSV replacing the synthetic facility catalogue "
        "(columns: see gridcarbon.grids.inventory.POINT_COLUMNS)",
    )
    keep_sectors: bool = Field(False, description="keep a `sector` dimension in the grids")
    seed: int = Field(20231, description="seed of the synthetic facility catalogue")
    drop_points_outside: bool = Field(
        False,
        description="drop (and log) point sources outside the grid instead of raising an error",
    )


class OutputConfig(_Section):
    """Where and how results are written."""

    directory: Path = Field(Path("gridcarbon-output"), description="output folder")
    formats: list[Literal["netcdf", "zarr", "geotiff"]] | None = Field(
        None,
        description="formats of the gridded results; null (the default) means netcdf and geotiff "
        "for a period held in memory (up to two months) and zarr and geotiff for a longer, "
        "streamed period, whose grids are a Zarr store (a year's NetCDF copy takes GBs and "
        "minutes to write: list netcdf to have one)",
    )
    language: Literal["en", "zh"] = Field(
        "en",
        description="language of the zone report, the Excel label row and the map: "
        "en (English) or zh (Chinese; tonne totals in 万吨); machine column names stay the same",
    )


class SpeciesDefinition(_Section):
    """A species beyond the built-in ones (see :class:`gridcarbon.species.Species`)."""

    name: str = Field(description="variable and column name (ASCII letters, digits, _)")
    long_name: str = Field(description="what it is, in English")
    mass_as: str = Field(description="the mass its emissions are expressed as")
    molar_mass_g_mol: float | None = Field(None, gt=0, description="of mass_as, g mol-1")
    observed_as: str = Field(description="the quantity stations measure")
    observed_unit: str = Field(description="canonical unit of observations (ppm, ppb, ...)")
    observed_molar_mass_g_mol: float | None = Field(
        None, gt=0, description="molar mass for µg m-3 → mixing ratio, g mol-1"
    )
    display_en: str = Field(description="display name in English")
    display_zh: str = Field(description="display name in Chinese")
    colour: str = Field("#7570b3", description="#rrggbb colour in charts")

    def to_species(self) -> Species:
        """The :class:`Species` value."""
        return Species(**self.model_dump())


class RunConfig(_Section):
    """A whole run.  ``RunConfig()`` is the embedded Zhejiang default."""

    scenario: Literal["zhejiang"] = "zhejiang"
    region: str = Field(
        "zhejiang",
        description="the region: zhejiang (the embedded default), or mainland provinces built by "
        "gridcarbon.scenario.generic, comma-separated by Chinese name, pinyin or adcode "
        "(e.g. 上海市 or shanghai,jiangsu), or a preset: yrd (Shanghai, Jiangsu, Zhejiang, "
        "Anhui), mainland (the 31 provinces); see docs/regions.md",
        min_length=1,
        max_length=400,
    )
    species: list[str] = Field(
        default_factory=lambda: list(SPECIES),
        description="species of the run, by name: the built-in CO2, NOx, VOC or one of "
        "species_definitions",
    )
    species_definitions: list[SpeciesDefinition] = Field(
        default_factory=list,
        description="further species (name, long_name, mass_as, molar mass, observed "
        "quantity and unit, display names, colour); give the scenario their emissions",
    )
    sectors: list[str] = Field(default_factory=lambda: list(SECTORS))
    period: PeriodConfig = Field(default_factory=PeriodConfig)
    grid: GridConfig = Field(default_factory=GridConfig)
    prior: PriorConfig = Field(default_factory=PriorConfig)
    inversion: InversionConfig = Field(default_factory=InversionConfig)
    zoning: ZoningConfig = Field(default_factory=ZoningConfig)
    maps: MapConfig = Field(default_factory=MapConfig)
    synergy: SynergyConfig = Field(default_factory=SynergyConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @field_validator("sectors")
    @classmethod
    def _known_sectors(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - set(SECTORS))
        if unknown:
            raise ValueError(f"unknown sector(s) {unknown}; known sectors are {list(SECTORS)}")
        if not v:
            raise ValueError("at least one sector is needed")
        return v

    @field_validator("region")
    @classmethod
    def _region_text(cls, v: str) -> str:
        v = v.strip()
        if not v or any(ord(c) < 32 for c in v):
            raise ValueError(f"region {v!r} must be a non-empty name without control characters")
        return v

    @field_validator("species")
    @classmethod
    def _species_nonempty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one species is needed")
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _species_known(self) -> RunConfig:
        try:
            self.species_values()
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self

    def species_values(self) -> tuple[Species, ...]:
        """The run's species as :class:`~gridcarbon.species.Species` values, in order."""
        known = (*DEFAULT_SPECIES, *(d.to_species() for d in self.species_definitions))
        return resolve_species(self.species, known)

    # -- YAML -------------------------------------------------------------------------------
    def to_yaml(self) -> str:
        """The configuration as YAML text (every value, defaults included)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)

    def to_commented_yaml(self) -> str:
        """The configuration as YAML with each setting's description as a comment above it."""
        return "\n".join(_commented(self, 0)) + "\n"

    @classmethod
    def from_yaml(cls, text: str) -> RunConfig:
        """Parse and validate YAML text; raises :class:`ConfigError` naming the bad value."""
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"configuration is not valid YAML{where}: {problem}") from None
        if not isinstance(data, dict):
            raise ConfigError("configuration must be a YAML mapping of sections")
        return cls.validate_dict(data)

    @classmethod
    def validate_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Validate a plain dict; raises :class:`ConfigError` with every problem listed."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"invalid configuration: {problems}") from None


def _commented(model: BaseModel, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    values = model.model_dump(mode="json")
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if field.description:
            lines.extend(f"{pad}# {part}" for part in field.description.splitlines())
        if isinstance(value, BaseModel):
            lines.append(f"{pad}{name}:")
            lines.extend(_commented(value, indent + 2))
            continue
        flat = isinstance(values[name], list) and not any(
            isinstance(v, dict | list) for v in values[name]
        )  # a list of plain values reads best on one line: [CO2, NOx, VOC]
        if flat:
            inline = yaml.safe_dump(
                values[name], allow_unicode=True, default_flow_style=True, width=10_000
            ).strip()
            dumped = f"{name}: {inline}"
        else:
            dumped = yaml.safe_dump(
                {name: values[name]}, sort_keys=False, allow_unicode=True, default_flow_style=False
            ).rstrip("\n")
        lines.extend(pad + line for line in dumped.splitlines())
    return lines


def load_config(path: str | Path | None) -> RunConfig:
    """Read a YAML run configuration; ``None`` gives the default.

    Parameters
    ----------
    path : path or None
        A YAML file holding any part of the configuration (``gridcarbon config`` writes the
        whole of it, every setting explained); settings not given keep their defaults.

    Returns
    -------
    RunConfig
        The validated configuration.

    Raises
    ------
    InputFileError
        A missing, unreadable, binary or oversized file.
    ConfigError
        Not YAML, an unknown key or a bad value (the message names the file and the setting).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from gridcarbon import load_config
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.yaml"
    >>> _ = path.write_text("grid:\\n  cell_size_m: 6000\\nspecies: [CO2]\\n", encoding="utf-8")
    >>> config = load_config(path)
    >>> config.grid.cell_size_m, config.species, str(config.period.start)
    (6000.0, ['CO2'], '2023-01-01')
    >>> _ = path.write_text("grid:\\n  cell_size: 6000\\n", encoding="utf-8")
    >>> load_config(path)
    Traceback (most recent call last):
    ...
    gridcarbon.errors.ConfigError: ...run.yaml: invalid configuration: grid.cell_size: Extra \
inputs are not permitted
    """
    if path is None:
        return RunConfig()
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"configuration file {str(path)!r} does not exist")
    if not path.is_file():
        raise InputFileError(f"configuration {str(path)!r} is not a file; give a YAML file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(
            f"cannot read configuration file {str(path)!r}: {exc.strerror}"
        ) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise InputFileError(
            f"configuration file {str(path)!r} has {len(raw):,} bytes; a run configuration is a "
            f"few kB of YAML (at most {MAX_CONFIG_BYTES:,} bytes)"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"configuration file {str(path)!r} is not UTF-8 text (byte {exc.start}); give a "
            "YAML file (`gridcarbon config > my.yaml` writes one to start from)"
        ) from None
    if "\x00" in text:
        raise InputFileError(
            f"configuration file {str(path)!r} holds NUL bytes: it is a binary file, not YAML"
        )
    try:
        return RunConfig.from_yaml(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


#: The largest configuration file read (bytes).
MAX_CONFIG_BYTES = 1 << 20
