"""The values stages exchange, the file names a run folder holds, and the shared vocabularies.

Every stage is a function from its inputs (values defined here) and its own configuration
section to its result (a value defined here); the pipeline is the only code that wires stages
together.  The dataclasses are frozen (their fields cannot be rebound) and picklable, so a
scheduler can ship them between processes; they may hold dask-backed xarray objects.

Stages that need something of another stage see it only through a value or a ``Protocol`` of
this module: the zoning stage sees the posterior covariance only as
:class:`PosteriorCovariance` ("σ of the total over these cells, species and hours"), never the
inversion package; the map reads the zoning result only through :class:`ZoningResult`.

Light: importing this module loads no numeric or geographic library (the type hints name
them only for type checkers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from gridcarbon.errors import ConfigError
from gridcarbon.species import DEFAULT_SPECIES, Species

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp
    import shapely
    import xarray as xr

__all__ = [
    "UNIT_CATEGORIES",
    "UNIT_CATEGORY_ZH",
    "UNIT_CATEGORY_COLOURS",
    "UNIT_CATEGORY_DIGIT",
    "EMERGING_CATEGORIES",
    "PATHWAYS",
    "pathway_for",
    "colocation_set_name",
    "RunFile",
    "RUN_FILES",
    "run_file_name",
    "PosteriorCovariance",
    "ObservationType",
    "HotspotStatistic",
    "MeteorologySource",
    "Scenario",
    "ObservationSet",
    "InversionResult",
    "ZoningResult",
    "MapInputs",
    "Document",
    "ReportSection",
    "PointLayer",
    "LayerStyle",
]

# -- vocabularies two stages share ----------------------------------------------------------------

#: The three categories of 三线一单 environmental control units.
UNIT_CATEGORIES: tuple[str, ...] = ("priority_protection", "key_control", "general_control")
#: Their names as the 三线一单 documents write them.
UNIT_CATEGORY_ZH: Mapping[str, str] = {
    "priority_protection": "优先保护",
    "key_control": "重点管控",
    "general_control": "一般管控",
}
#: Map colours of the categories, in the convention of the provincial 三线一单 result maps
#: (priority protection green, key control red, general control yellow).  The published
#: 三线一单 technical guide and data specification fix the categories, not RGB values; these
#: are ColorBrewer Set1 green and red and Set2 yellow, chosen to follow that convention.
UNIT_CATEGORY_COLOURS: Mapping[str, str] = {
    "priority_protection": "#4daf4a",
    "key_control": "#e41a1c",
    "general_control": "#ffd92f",
}
#: The category digit of a unit code (ZH + 6-digit county code + digit + sequence).
UNIT_CATEGORY_DIGIT: Mapping[str, str] = {
    "priority_protection": "1",
    "key_control": "2",
    "general_control": "3",
}

#: The 17 emerging-hotspot categories (ArcGIS Emerging Hot Spot Analysis), by code.
EMERGING_CATEGORIES: tuple[str, ...] = (
    "no pattern detected",
    "new hot spot",
    "consecutive hot spot",
    "intensifying hot spot",
    "persistent hot spot",
    "diminishing hot spot",
    "sporadic hot spot",
    "oscillating hot spot",
    "historical hot spot",
    "new cold spot",
    "consecutive cold spot",
    "intensifying cold spot",
    "persistent cold spot",
    "diminishing cold spot",
    "sporadic cold spot",
    "oscillating cold spot",
    "historical cold spot",
)

#: Differentiated co-control pathways by unit type (English, Chinese), from the Huzhou pilot.
PATHWAYS: Mapping[str, tuple[str, str]] = {
    "industrial_agglomeration": (
        "co-control technology for high-energy, high-emission industries in the park "
        "(process upgrades, end-of-pipe NOx/VOC control with energy efficiency and fuel switching)",
        "园区高耗能高排放行业减污降碳协同技术",
    ),
    "urban_living": (
        "living, transport and building measures (clean heating and cooking, low-emission "
        "transport, energy-efficient buildings)",
        "生活、交通、建筑领域协同减排",
    ),
    "general_control": (
        "agriculture: low-emission farming, fertiliser and residue management, rural energy",
        "农业领域减污降碳",
    ),
    "priority_protection": (
        "protection and carbon-sink enhancement (forest and wetland protection, restoration)",
        "生态保护与碳汇提升",
    ),
    "sea": (
        "ports and shipping (shore power, clean marine fuels, electrified port machinery); an "
        "extension of the four pathways for general-control sea units",
        "港口航运领域减污降碳",
    ),
    "key_control": (
        "key-control unit: targeted co-control of the dominant emitting sectors",
        "重点行业减污降碳协同管控",
    ),
}


def pathway_for(category: str, subtype: str) -> tuple[str, str]:
    """The recommended co-control pathway (English, Chinese) of a unit by its type."""
    if subtype in ("industrial_agglomeration", "urban_living", "sea"):
        return PATHWAYS[subtype]
    return PATHWAYS.get(category, PATHWAYS["general_control"])


def colocation_set_name(species: tuple[str, ...]) -> str:
    """Name stem of a co-located species set in the zoning outputs (``coloc_<stem>`` in the
    hotspot Datasets, ``coloc_<stem>_cell_days`` … in the unit table): ``all`` for a set of
    three or more species (the zoning stage tests only the run's whole set), else the two
    species names joined by ``_`` (``CO2_NOx``)."""
    return "all" if len(species) >= 3 else "_".join(species)


# -- the run folder -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFile:
    """One file (or store) a run folder holds.

    ``always``: written by every run in which its stage runs with default formats; otherwise it
    depends on an option (named in ``description``).
    """

    role: str
    name: str
    stage: Literal["run", "prior", "inversion", "zoning", "maps"]
    description: str
    always: bool = True


#: Every file a run folder holds, by role.  Stages write, and the map reads, by these names.
RUN_FILES: tuple[RunFile, ...] = (
    RunFile("config", "config.yaml", "run", "the full configuration of the run"),
    RunFile("summary", "summary.json", "run", "period totals, grid, stage timings"),
    RunFile("prior_netcdf", "prior.nc", "prior", "hourly prior grids, CF NetCDF"),
    RunFile(
        "prior_zarr", "prior.zarr", "prior", "hourly prior grids, Zarr (output.formats)", False
    ),
    RunFile("prior_geotiff", "prior_totals.tif", "prior", "period totals per cell, GeoTIFF"),
    RunFile("prior_points", "prior_point_sources.csv", "prior", "point sources with totals"),
    RunFile("posterior_netcdf", "posterior.nc", "inversion", "posterior grids with σ"),
    RunFile(
        "posterior_zarr",
        "posterior.zarr",
        "inversion",
        "posterior grids, Zarr (output.formats)",
        False,
    ),
    RunFile("inversion_metrics_json", "inversion_metrics.json", "inversion", "inversion metrics"),
    RunFile("inversion_metrics_csv", "inversion_metrics.csv", "inversion", "the same, a table"),
    RunFile("inversion_extras", "inversion_extras.csv", "inversion", "non-grid unknowns"),
    RunFile("station_stats", "station_stats.csv", "inversion", "fit per station and species"),
    RunFile("station_series", "station_series.csv", "inversion", "hourly fit per station"),
    RunFile(
        "observations",
        "observations.csv",
        "inversion",
        "the synthetic observations (only when they are synthetic)",
        False,
    ),
    RunFile(
        "column_observations",
        "column_observations.csv",
        "inversion",
        "satellite superobservations with their prior and posterior fit (only with columns)",
        False,
    ),
    RunFile(
        "overpass_stats",
        "overpass_stats.csv",
        "inversion",
        "fit statistics per satellite overpass (only with columns)",
        False,
    ),
    RunFile(
        "cross_validation",
        "cross_validation.csv",
        "inversion",
        "leave-stations-out cross-validation per species and station class "
        "(inversion.cross_validation)",
        False,
    ),
    RunFile(
        "innovation_statistics",
        "innovation_statistics.csv",
        "inversion",
        "Desroziers innovation statistics per observation type, quantity and station class, "
        "with the R factors applied (inversion.errors.innovation_statistics or "
        "innovation_tuning)",
        False,
    ),
    RunFile(
        "osse_perturbed",
        "osse_perturbed.csv",
        "inversion",
        "OSSE scores per replicate and species, perturbed transport (`gridcarbon osse`)",
        False,
    ),
    RunFile(
        "osse_perturbed_summary",
        "osse_perturbed_summary.json",
        "inversion",
        "OSSE targets against the measured figures, perturbed transport (`gridcarbon osse`)",
        False,
    ),
    RunFile(
        "osse_randomised",
        "osse_randomised.csv",
        "inversion",
        "OSSE scores per replicate and species, transport errors drawn per replicate (with "
        "the draws; `gridcarbon osse --mode randomised`)",
        False,
    ),
    RunFile(
        "osse_randomised_summary",
        "osse_randomised_summary.json",
        "inversion",
        "OSSE targets against the measured figures, randomised transport errors "
        "(`gridcarbon osse`)",
        False,
    ),
    RunFile(
        "osse_identical",
        "osse_identical.csv",
        "inversion",
        "OSSE scores per replicate and species, identical twin (`gridcarbon osse`)",
        False,
    ),
    RunFile(
        "osse_identical_summary",
        "osse_identical_summary.json",
        "inversion",
        "OSSE targets against the measured figures, identical twin (`gridcarbon osse`)",
        False,
    ),
    RunFile(
        "osse_perfect",
        "osse_perfect.csv",
        "inversion",
        "OSSE scores per replicate and species, perfect-transport twin (R without the "
        "transport term; `gridcarbon osse --mode perfect`)",
        False,
    ),
    RunFile(
        "osse_perfect_summary",
        "osse_perfect_summary.json",
        "inversion",
        "OSSE targets against the measured figures, perfect-transport twin (`gridcarbon osse`)",
        False,
    ),
    RunFile("units_gpkg", "zone_units.gpkg", "zoning", "units with every per-unit figure"),
    RunFile("units_csv", "zone_units.csv", "zoning", "the same without geometry"),
    RunFile("units_daily_csv", "zone_units_daily.csv", "zoning", "unit × Beijing day"),
    RunFile("units_monthly_csv", "zone_units_monthly.csv", "zoning", "unit × Beijing month"),
    RunFile("colocation_csv", "zone_colocation.csv", "zoning", "co-location against chance"),
    RunFile("rollup_category", "zone_rollup_category.csv", "zoning", "roll-up by category"),
    RunFile("rollup_subtype", "zone_rollup_subtype.csv", "zoning", "roll-up by subtype"),
    RunFile("rollup_county", "zone_rollup_county.csv", "zoning", "roll-up by county"),
    RunFile("rollup_city", "zone_rollup_city.csv", "zoning", "roll-up by city"),
    RunFile("excel", "zone_report.xlsx", "zoning", "the zone report, Excel"),
    RunFile("html", "zone_report.html", "zoning", "the zone report, HTML"),
    RunFile("tally_hourly_nc", "zone_tally_hourly.nc", "zoning", "hourly per-unit tallies"),
    RunFile("tally_daily_nc", "zone_tally_daily.nc", "zoning", "daily/monthly tallies"),
    RunFile("diurnal_nc", "zone_diurnal.nc", "zoning", "mean diurnal profile per unit"),
    RunFile(
        "hotspots_hour_nc",
        "hotspots_hour.nc",
        "zoning",
        "hourly Gi* bins (zoning.hourly_hotspots)",
    ),
    RunFile("hotspots_day_nc", "hotspots_day.nc", "zoning", "daily Gi* and emerging hotspots"),
    RunFile("hotspots_month_nc", "hotspots_month.nc", "zoning", "monthly Gi* bins"),
    RunFile("qa_json", "zone_units_qa.json", "zoning", "QA of the control units"),
    RunFile("map", "map.html", "maps", "the interactive map"),
)


def run_file_name(role: str) -> str:
    """The file name of ``role`` in a run folder (ConfigError naming the known roles)."""
    for f in RUN_FILES:
        if f.role == role:
            return f.name
    raise ConfigError(f"unknown run-folder role {role!r}; known: {[f.role for f in RUN_FILES]}")


# -- seams ----------------------------------------------------------------------------------------


@runtime_checkable
class PosteriorCovariance(Protocol):
    """What the zoning stage may ask of an inversion: σ of emission totals.

    ``weights`` is ``(n_units, n_cells)`` (coverage fractions); ``point_unit`` assigns each
    point source to a unit row (−1: none); ``hours`` selects hours of the period (None: all).
    Returns ``(n_units,)`` standard deviations in kg over the hours.
    """

    def total_std(
        self,
        weights: sp.spmatrix,
        species: str,
        point_unit: np.ndarray | None = None,
        hours: Any = None,
    ) -> np.ndarray: ...


@runtime_checkable
class ObservationType(Protocol):
    """A kind of observation the inversion can assimilate (station-hour point, column, ...).

    ``table`` holds one row per observation (``time`` UTC, ``species`` observed, ``value``,
    ``unit``, ``uncertainty`` and the kind's own columns).  What is assimilated may be fewer
    rows (e.g. daily means of hourly values): ``assimilated`` gives one row per assimilated
    observation — ``station_id`` (the station, or the kind's own name for the place it
    observes), ``species``, ``kind``, ``time``, ``observed`` (the value assimilated) and
    ``prior`` (its modelled value at the prior state, any constant part such as a background
    included) — the operator's block of H maps the state to those rows (the modelled value is
    ``prior + block @ (x - x_prior)``), and ``error_variance`` gives their part of R.
    """

    name: str

    def table(self) -> pd.DataFrame: ...

    def assimilated(self, system: Any) -> pd.DataFrame: ...

    def jacobian_block(self, system: Any) -> sp.csr_matrix: ...

    def error_variance(self, system: Any) -> np.ndarray: ...


#: A hotspot statistic: ``(fields (nt, ny, nx), mask (ny, nx), radius_m, cell_size_m) → z``.
HotspotStatistic = Callable[..., Any]


# -- the region -----------------------------------------------------------------------------------


class MeteorologySource(Protocol):
    """Hourly meteorology for the hours of a period (``Dataset`` on station/grid points)."""

    synthetic: bool

    def for_hours(self, hours_utc: Any) -> xr.Dataset: ...


@dataclass(frozen=True)
class Scenario:
    """Everything region-specific, as one value handed to the stages.

    Parameters
    ----------
    name : str
        e.g. ``"zhejiang"``.
    species : tuple of Species
    grid : GridSpec
    region : shapely geometry
        The region (land plus territorial sea) in the grid's CRS, metres.
    boundaries : mapping of level → GeoDataFrame (lon/lat)
        Base-map and admin boundaries: ``province``, ``city``, ``county``, ``neighbours``.
    landcover : mapping of class → ``(ny, nx)`` fraction
        ``urban``, ``cropland``, ``forest``, ... on the grid.
    inventory : gridcarbon.grids.inventory.Inventory
        Annual emissions on ``grid``: area sources by sector on proxies, and point sources.
    stations : DataFrame
        The monitoring network (``station_id``, ``name``, ``lon``, ``lat``, ``height``,
        ``kind``, ``species``).
    meteorology : MeteorologySource
    control_units : GeoDataFrame or None
        Units in the standard columns; None: the run needs a units file.
    cities : mapping of code → name
        Cities whose totals the OSSE scores by default.
    input_checksums : mapping of file → sha256
    synthetic_components : tuple of str
        What of the scenario is synthetic, for every output's metadata.
    """

    name: str
    species: tuple[Species, ...]
    grid: Any
    region: shapely.Geometry
    boundaries: Mapping[str, gpd.GeoDataFrame]
    landcover: Mapping[str, np.ndarray]
    inventory: Any
    stations: pd.DataFrame
    meteorology: MeteorologySource
    control_units: gpd.GeoDataFrame | None
    cities: Mapping[str, str] = field(default_factory=dict)
    input_checksums: Mapping[str, str] = field(default_factory=dict)
    synthetic_components: tuple[str, ...] = ()

    @property
    def synthetic(self) -> bool:
        """Whether any part of the scenario is synthetic."""
        return bool(self.synthetic_components)

    @property
    def synthetic_units(self) -> str:
        """The synthetic component naming the control units (it starts with ``control units``),
        or ``""`` when the units are real or absent: only outputs that tally units carry it."""
        return next((c for c in self.synthetic_components if c.startswith("control units")), "")


# -- stage results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObservationSet:
    """Observations of one or more types, with the stations they come from."""

    kinds: tuple[ObservationType, ...]
    stations: pd.DataFrame
    synthetic: bool
    qa: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InversionResult:
    """What the inversion stage hands on.

    ``posterior``: emission Dataset like the prior, with ``<sp>_std``; ``covariance``: σ of
    totals for the zoning stage; ``stations``, ``station_stats``, ``station_series``: for the
    map; ``metrics``: JSON-ready figures; ``label``: which inversion (written into outputs);
    ``details``: the inversion's own result object for modellers; ``extras``: the unknowns
    outside the grid (prior, posterior, σ); ``observations``: the synthetic observations that
    were inverted (None when they were given); ``column_observations`` and ``overpass_stats``:
    with satellite columns among the observations, their superobservations with the prior and
    posterior fit and the fit statistics of each overpass
    (:mod:`gridcarbon.inversion.column_fit`; None without columns); ``cross_validation``: the
    scores of the withheld stations per species and station class
    (:mod:`gridcarbon.inversion.cross_validation`; None unless it was asked for);
    ``innovation_statistics``: the Desroziers statistics per group of observations
    (:mod:`gridcarbon.inversion.innovations`; None unless ``errors.innovation_statistics`` or
    ``errors.innovation_tuning`` asked for them).
    """

    posterior: xr.Dataset
    covariance: PosteriorCovariance
    stations: pd.DataFrame
    station_stats: pd.DataFrame
    station_series: pd.DataFrame
    metrics: Mapping[str, Any]
    label: str
    details: Any = None
    extras: pd.DataFrame | None = None
    observations: pd.DataFrame | None = None
    column_observations: pd.DataFrame | None = None
    overpass_stats: pd.DataFrame | None = None
    cross_validation: pd.DataFrame | None = None
    innovation_statistics: pd.DataFrame | None = None


@dataclass(frozen=True)
class ZoningResult:
    """What the zoning stage hands on (see ``docs/zoning.md`` for each field).

    The stage fills every field; a result read back from a run folder
    (:func:`gridcarbon.io.run_folder_reader.read_map_inputs`) holds only what its files keep
    (``units``, ``tally_day``, ``tally_month``, ``diurnal``, ``hotspots``): the others are
    None or empty.
    ``overlay``: the units on the grid (``F``, the units × cells coverage fractions, and
    ``point_unit``, the unit of each point source, −1 for none); ``species``: the species
    tallied, in output order (their names are the variables and column stems).
    """

    units: gpd.GeoDataFrame
    tally: xr.Dataset | None = None
    tally_day: xr.Dataset | None = None
    tally_month: xr.Dataset | None = None
    table: pd.DataFrame | None = None
    rollups: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    diurnal: xr.DataArray | None = None
    hotspots: Mapping[str, xr.Dataset] = field(default_factory=dict)
    colocation: pd.DataFrame | None = None
    qa: Any = None
    grids_kind: Literal["prior", "posterior"] | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    overlay: Any = None
    species: tuple[Species, ...] = ()


@dataclass(frozen=True)
class MapInputs:
    """Everything the map draws, already read: no file names are guessed.

    ``prior``/``posterior``: emission Datasets on one grid (the posterior with ``<sp>_std``,
    ``<sp>_prior_std`` or ``<sp>_uncertainty_reduction``); ``zoning``: read by field name
    (``units`` with the standard columns of ``docs/zoning.md``, ``diurnal``, ``tally_month``,
    ``hotspots["day"]``); ``stations``, ``station_stats``, ``station_series``: the inversion's
    tables; ``boundaries``: ``province``, ``city``, ``county`` lon/lat GeoDataFrames with a
    ``name`` column (the base layer); ``provenance``: ``gridcarbon_version``, ``synthetic``,
    ``synthetic_components``, ``input_checksums`` shown in the page (missing ones are taken from
    the prior's attributes); ``species``: the species drawn, in order (those of the prior);
    ``point_layers``: further point layers (:class:`PointLayer`, e.g. the synergy analytics'),
    drawn as given; ``column_observations``: satellite superobservations with their fit (the
    inversion's ``column_observations.csv``), drawn for one overpass (``maps.column_overpass``).
    """

    prior: xr.Dataset
    posterior: xr.Dataset | None = None
    zoning: ZoningResult | None = None
    stations: pd.DataFrame | None = None
    station_stats: pd.DataFrame | None = None
    station_series: pd.DataFrame | None = None
    boundaries: Mapping[str, gpd.GeoDataFrame] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)
    species: tuple[Species, ...] = DEFAULT_SPECIES
    point_layers: tuple[PointLayer, ...] = ()
    column_observations: pd.DataFrame | None = None


@dataclass(frozen=True)
class Document:
    """The content of one output file, by kind; :func:`gridcarbon.io.outputs.write_documents`
    writes it.  Stages and presenters return documents, never files.

    kinds and their content: ``csv`` a DataFrame; ``xlsx`` a mapping of sheet name → DataFrame;
    ``gpkg`` a GeoDataFrame (one layer, named by ``layer``); ``netcdf`` an xarray Dataset
    (tallies, hotspots: written as given); ``grids`` an emission Dataset (NetCDF, or Zarr for a
    ``.zarr`` name, with the emission-grid encoding); ``geotiff`` a mapping species → ``(ny, nx)``
    period totals with the emission Dataset in ``source``; ``html``/``text`` a str; ``json`` a
    JSON-ready value.  ``attrs`` are written as NetCDF global attributes or GeoPackage layer
    metadata.  ``bom``: a CSV starts with a UTF-8 byte-order mark (so that Excel reads its
    Chinese text right).  ``labels`` (``xlsx``): by sheet name, a people's label (with its unit)
    for each column, written as a second header row under the machine column names.
    ``style`` (``gpkg``): a :class:`LayerStyle` stored in the GeoPackage's ``layer_styles``
    table, so that QGIS opens the layer styled.
    """

    kind: Literal["csv", "xlsx", "gpkg", "netcdf", "grids", "geotiff", "html", "text", "json"]
    content: Any
    attrs: Mapping[str, str] = field(default_factory=dict)
    layer: str | None = None
    source: Any = None
    bom: bool = False
    labels: Mapping[str, Sequence[str]] = field(default_factory=dict)
    style: LayerStyle | None = None


@dataclass(frozen=True)
class LayerStyle:
    """A layer style as QGIS keeps it in a GeoPackage's ``layer_styles`` table: ``name``
    (``styleName``), ``qml`` (QGIS's own style document), ``sld`` (OGC Styled Layer
    Descriptor) and ``description``; it is the layer's default style."""

    name: str
    qml: str
    sld: str
    description: str = ""


def run_folder_files(folder: Path, stages: tuple[str, ...]) -> dict[str, Path]:
    """The registry's files of ``stages`` in ``folder`` (those that are always written)."""
    return {f.role: folder / f.name for f in RUN_FILES if f.stage in stages and f.always}


@dataclass(frozen=True)
class ReportSection:
    """A further section of the zone report, made by another stage (e.g. the synergy analytics).

    ``title``: its heading; ``html``: an HTML fragment (a ``<section>``) whose every value was
    escaped by its maker's autoescaping template (the zone report inserts it as it is);
    ``sheets``: sheet name → table, added to the zone report's Excel workbook as they are.
    """

    title: str
    html: str
    sheets: Mapping[str, pd.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class PointLayer:
    """A map layer of coloured points with a popup table each (names shown as text only).

    ``points``: one row per point with ``id``, ``name``, ``lon``, ``lat`` (WGS84), ``colour``
    (``#rrggbb``), ``kind`` (the class shown beside the id) and ``rows`` (a list of
    ``[label, value]`` text pairs for the popup table); ``legend``: ``(colour, label)`` pairs;
    ``group``: the layer control's group heading; ``show``: drawn when the page opens.
    """

    name: str
    group: str
    points: pd.DataFrame
    legend: tuple[tuple[str, str], ...] = ()
    show: bool = False
