"""Configuration of the maps stage (a section of :class:`gridcarbon.config.RunConfig`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gridcarbon.names import has_control

#: Raster variants a map can show, in layer-control order.
RASTER_VARIANTS: tuple[str, ...] = ("prior", "posterior", "difference", "uncertainty_reduction")


class MapConfig(BaseModel):
    """Settings of the maps stage; every field has a documented default.

    The defaults give the reviewers' map of ``docs/maps.md``: a self-contained HTML file (no
    network request) with the rasters of every species, control units, hotspots and stations.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(True, description="run this stage in `gridcarbon run`")
    self_contained: bool = Field(
        True,
        description="inline every script, style and image into the HTML (zero network requests); "
        "False links Leaflet from its CDN instead (smaller file, needs internet: `--cdn`)",
    )
    file_name: str = Field(
        "map.html", description="file name of the map in the run's output folder"
    )
    title: str = Field(
        "gridcarbon — emissions, corrections and co-located hotspots", description="page title"
    )
    # -- rasters ---------------------------------------------------------------------------------
    raster_variants: list[Literal["prior", "posterior", "difference", "uncertainty_reduction"]] = (
        Field(
            default_factory=lambda: list(RASTER_VARIANTS),
            description="raster layers per species; those whose data are missing are skipped",
        )
    )
    raster_species: list[str] | None = Field(
        None,
        description="names of the species whose rasters are drawn (checked against the run's "
        "species when the map is made); None = every species of the run in the prior",
    )
    raster_pixels_per_cell: int = Field(
        3,
        ge=1,
        le=10,
        description="Web-Mercator pixels per 3 km cell of the warped image (nearest neighbour)",
    )
    raster_opacity: float = Field(0.75, ge=0.0, le=1.0, description="opacity of raster images")
    raster_initial: str | None = Field(
        None,
        description="raster shown when the map opens, as '<variant> <species>' (e.g. "
        "'posterior CO2'); None = none when a unit layer is drawn (it would hide the raster), "
        "otherwise the posterior (else prior) of the first species",
    )
    n_classes: int = Field(8, ge=3, le=12, description="colour classes of linear sequential scales")
    log_scale: Literal["auto", "always", "never"] = Field(
        "auto", description="log class breaks: 'auto' uses them where the data span decades"
    )
    log_min_decades: float = Field(
        2.0,
        gt=0,
        description="with log_scale='auto', positive values whose 2nd–99.5th percentiles span "
        "at least this many decades get log class breaks",
    )
    colormap_sequential: str = Field(
        "YlGnBu_09",
        description="branca linear colormap of emissions; sequential colormaps are drawn light "
        "to dark as the value rises (one that runs dark to light is reversed)",
    )
    colormap_diverging: str = Field(
        "RdBu_11", description="branca diverging colormap of posterior − prior (reversed: red = up)"
    )
    colormap_reduction: str = Field(
        "plasma", description="colormap of the uncertainty reduction (drawn light to dark)"
    )
    colormap_units: str = Field(
        "YlOrRd_09",
        description="colormap of the control-unit metric and the time slider (drawn light to dark)",
    )
    # -- control units -----------------------------------------------------------------------------
    unit_metric: str | None = Field(
        None,
        description="unit column that colours the units; None = the first present of the "
        "co-located hotspot hours, cell-hours, cell-days, then the first species' intensity "
        "and total (gridcarbon.maps.layers_units.unit_columns)",
    )
    unit_tooltip_fields: list[str] | None = Field(
        None,
        description="unit columns listed in the tooltip after code, name, category and subtype; "
        "None = the colouring metric, then area, totals, intensities and hotspot figures "
        "(gridcarbon.maps.layers_units.unit_columns)",
    )
    unit_series_variables: list[str] | None = Field(
        None,
        description="species (names) whose per-unit diurnal and monthly series are charted in "
        "popups and offered by the time slider (per km² where the units have an area); None = "
        "every species of the run",
    )
    unit_simplify_m: float = Field(
        150.0, ge=0, description="topology-preserving simplification tolerance of unit polygons, m"
    )
    coordinate_decimals: int = Field(
        4, ge=3, le=7, description="decimals of lon/lat written into the HTML (4 ≈ 11 m)"
    )
    # -- base layer, hotspots, stations -------------------------------------------------------------
    boundary_simplify_m: float = Field(
        200.0, ge=0, description="simplification tolerance of the province/city/county outlines, m"
    )
    hotspot_level: Literal["day", "hour", "month"] = Field(
        "day",
        description="level of the zoning stage's hotspot Datasets drawn on the hotspot layers "
        "(the per-unit figures come from daily aggregates)",
    )
    hotspot_min_steps: int = Field(
        1,
        ge=1,
        description="show a cell as a hotspot if it is hot in at least this many time steps",
    )
    column_overpass: str = Field(
        "largest",
        description="overpass drawn on the column-observation layers (only when the run "
        "assimilated satellite columns): 'largest' = the one with the most superobservations, "
        "'first' = the earliest, an overpass id as in column_observations.csv (e.g. the file "
        "name), or a UTC time in ISO 8601 (the nearest overpass within 3 hours)",
    )
    tile_layers: list[Literal["OpenStreetMap", "OpenTopoMap"]] = Field(
        default_factory=lambda: ["OpenStreetMap", "OpenTopoMap"],
        description="optional web basemaps (off when the map opens; blank without internet)",
    )
    layer_control_collapsed: bool = Field(
        True,
        description="collapse the layer control into an icon that opens on hover or tap "
        "(False keeps the grouped list open)",
    )

    @field_validator("file_name")
    @classmethod
    def _plain_file_name(cls, v: str) -> str:
        # the name is joined to the run folder: a path ("../x.html") would write outside it
        if (
            v in ("", ".", "..")
            or "/" in v
            or "\\" in v
            or has_control(v)
            or not v.lower().endswith((".html", ".htm"))
        ):
            raise ValueError(
                f"{v!r} is not a plain file name ending in .html (no folder, no control "
                "characters); use e.g. 'map.html'"
            )
        return v

    @field_validator("column_overpass")
    @classmethod
    def _overpass_choice(cls, v: str) -> str:
        if not v.strip() or has_control(v):
            raise ValueError(
                f"{v!r} is not an overpass choice; use 'largest', 'first', an overpass id or a "
                "UTC time such as '2023-06-03T05:30'"
            )
        return v

    @field_validator("raster_variants")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))
