"""The reviewers' map as a function of its inputs, and its HTML document.

:func:`make_map` draws a :class:`~gridcarbon.contracts.MapInputs` value (see ``docs/maps.md``
for every layer); :func:`map_documents` gives the page as a
:class:`~gridcarbon.contracts.Document` for :func:`gridcarbon.io.outputs.write_documents`;
:func:`write_map` writes it to a path.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import folium
import numpy as np

from gridcarbon.config.maps import MapConfig
from gridcarbon.contracts import Document, MapInputs
from gridcarbon.errors import InputDataError
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.io.glossary import Glossary, check_language
from gridcarbon.maps.assets import inline_assets
from gridcarbon.maps.boundaries import BOUNDARY_LAYER_NAMES, PLACES_LAYER_NAME, add_boundaries
from gridcarbon.maps.geometry import grid_latlon_bounds
from gridcarbon.maps.language import map_glossary, set_map_language, translate_map
from gridcarbon.maps.layers_columns import add_column_layers
from gridcarbon.maps.layers_hotspots import PAIRWISE_LAYER_NAME, add_hotspots, colocated_layer_name
from gridcarbon.maps.layers_points import add_point_layers
from gridcarbon.maps.layers_rasters import add_rasters, initial_raster, raster_fields
from gridcarbon.maps.layers_stations import STATIONS_LAYER_NAME, add_stations
from gridcarbon.maps.layers_units import CATEGORY_LAYER_NAME, UNITS_LAYER_NAME, add_units
from gridcarbon.maps.page import (
    add_layer_control,
    add_page,
    add_tile_layers,
    new_map,
    page_provenance,
)
from gridcarbon.species import DEFAULT_SPECIES, Species

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import xarray as xr

__all__ = ["make_map", "map_html", "map_documents", "write_map", "layer_names", "LAYER_NAMES"]

log = logging.getLogger(__name__)


def layer_names(species: tuple[Species, ...], language: str = "en") -> dict[str, str]:
    """Names of the map's fixed layers in the layer control, by key (``province``, ``city``,
    ``county``, ``places``, ``units``, ``unit_categories``, ``colocated``, ``pairwise``,
    ``stations``), in
    ``language``; the raster layers are named by
    :func:`gridcarbon.maps.layers_rasters.raster_layer_name`."""
    words = Glossary(language, species)
    names = {
        **BOUNDARY_LAYER_NAMES,
        "places": PLACES_LAYER_NAME,
        "units": UNITS_LAYER_NAME,
        "unit_categories": CATEGORY_LAYER_NAME,
        "colocated": colocated_layer_name(species),
        "pairwise": PAIRWISE_LAYER_NAME,
        "stations": STATIONS_LAYER_NAME,
    }
    return {key: words.translate(name) for key, name in names.items()}


#: The fixed layer names of a map of the default species.
LAYER_NAMES = layer_names(DEFAULT_SPECIES)


def _map_species(inputs: MapInputs, cfg: MapConfig) -> tuple[Species, ...]:
    """The species drawn: those of ``inputs.species`` in the prior, restricted to
    ``cfg.raster_species`` when given (names checked against ``inputs.species``)."""
    known = [s.name for s in inputs.species]
    if not known:
        raise InputDataError("MapInputs.species is empty: give the species of the run")
    if cfg.raster_species is not None:
        unknown = [n for n in cfg.raster_species if n not in known]
        if unknown:
            raise InputDataError(
                f"maps.raster_species {unknown} are not species of this map; "
                f"its species are {known}"
            )
    drawn = []
    for sp in inputs.species:
        if sp.name not in inputs.prior.data_vars:
            log.warning("map: the prior has no %s grid; %s is not drawn", sp.name, sp.name)
        elif cfg.raster_species is None or sp.name in cfg.raster_species:
            drawn.append(sp)
    return tuple(drawn)


def _check_same_grid(grid: GridSpec, posterior: xr.Dataset) -> None:
    pg = GridSpec.from_dataset(posterior)
    if (
        pg.shape != grid.shape
        or not np.isclose(pg.x_min, grid.x_min)
        or not np.isclose(pg.y_max, grid.y_max)
    ):
        raise InputDataError(
            f"posterior grid {pg.shape} does not match the prior grid {grid.shape}"
        )


def make_map(
    inputs: MapInputs, config: MapConfig | None = None, language: str = "en"
) -> folium.Map:
    """Build the reviewers' map of ``inputs``.

    Parameters
    ----------
    inputs : MapInputs
        ``prior`` (gives the grid and the base rasters) and whatever else there is:
        ``posterior`` (posterior, difference and uncertainty-reduction rasters), ``zoning``
        (control units, their series, hotspots), ``stations`` and ``station_series``,
        ``boundaries`` (the offline base layer), ``provenance``, ``species``, ``point_layers``
        (further point layers, e.g. the synergy analytics'), ``column_observations``
        (satellite superobservations: the column layers of one overpass).  Each missing
        piece leaves its layers out.
    config : MapConfig, optional
        Map settings; default ``MapConfig()``.
    language : {"en", "zh"}
        Language of the layer names, legends, tooltips and banner (``output.language``; words
        from :mod:`gridcarbon.io.glossary`).

    Returns
    -------
    folium.Map
        Its page: :func:`map_html`, :func:`map_documents`, :func:`write_map`.
    """
    cfg = config or MapConfig()
    prior = inputs.prior
    grid = GridSpec.from_dataset(prior)
    if inputs.posterior is not None:
        _check_same_grid(grid, inputs.posterior)
    species = _map_species(inputs, cfg)
    bounds = grid_latlon_bounds(grid)
    m = new_map(bounds, cfg)
    set_map_language(m, check_language(language))
    add_page(m, cfg, page_provenance(inputs.provenance, prior, cfg))

    zoning = inputs.zoning
    has_units = zoning is not None and zoning.units is not None and len(zoning.units) > 0
    fields = raster_fields(prior, inputs.posterior, species, cfg)
    add_rasters(m, grid, fields, cfg, initial_raster(fields, cfg, has_units))
    if has_units:
        add_units(m, grid, zoning, tuple(inputs.species), cfg)
    elif zoning is not None:
        log.info("map: the zoning result has no units; no unit layer")
    add_boundaries(m, inputs.boundaries, grid, cfg)
    if zoning is not None:
        level = zoning.hotspots.get(cfg.hotspot_level)
        if len(inputs.species) < 2:
            log.info("map: one species has no co-located hotspots; no hotspot layers")
        elif level is None:
            log.warning(
                "map: the zoning result has no %r hotspots (has %s); no hotspot layers",
                cfg.hotspot_level,
                sorted(zoning.hotspots),
            )
        else:
            add_hotspots(m, grid, level, tuple(inputs.species), cfg)
    if inputs.stations is not None and len(inputs.stations):
        add_stations(m, inputs.stations, inputs.station_series)
    add_point_layers(m, inputs.point_layers)
    if inputs.column_observations is not None and len(inputs.column_observations):
        add_column_layers(m, grid, inputs.column_observations, cfg)
    add_tile_layers(m, cfg)
    add_layer_control(m, cfg)
    translate_map(m, map_glossary(m, tuple(inputs.species)))
    m.fit_bounds(bounds)
    return m


def map_html(m: folium.Map, self_contained: bool | None = None) -> str:
    """The map's HTML; self-contained (assets inlined) unless ``self_contained=False``.

    ``None`` follows the ``MapConfig`` the map was made with (default: self-contained).
    """
    if self_contained is None:
        cfg = getattr(m, "gc_config", None)
        self_contained = True if cfg is None else cfg.self_contained
    page = m.get_root().render()
    return inline_assets(page) if self_contained else page


def map_documents(m: folium.Map, config: MapConfig | None = None) -> dict[str, Document]:
    """The map as documents: ``{config.file_name: Document("html", page)}`` (``map.html`` by
    default), self-contained unless ``config.self_contained`` is False."""
    cfg = config or getattr(m, "gc_config", None) or MapConfig()
    return {cfg.file_name: Document("html", map_html(m, cfg.self_contained))}


def write_map(
    m: folium.Map, path: str | Path, overwrite: bool = False, self_contained: bool | None = None
) -> Path:
    """Write the map to ``path`` atomically (temporary file, then rename).

    Raises :class:`~gridcarbon.errors.OutputExistsError` if ``path`` exists and ``overwrite``
    is False.
    """
    from gridcarbon.io.outputs import write_documents

    path = Path(path)
    doc = Document("html", map_html(m, self_contained))
    return write_documents({path.name: doc}, path.parent, overwrite)[path.name]
