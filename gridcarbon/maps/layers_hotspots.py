"""Hotspot layers: grid cells where all the run's species are hot together (co-located), and
cells hot in exactly two of them (pairwise), from the zoning stage's hotspot Dataset.

The Dataset is read by the names of ``docs/zoning.md`` §7: ``coloc_<set>`` over
``(time, y, x)`` with the weakest confidence bin (0 = none, 1..3) of the species in the set,
``<set>`` from :func:`gridcarbon.contracts.colocation_set_name` (``all`` for three species
or more, the pair's names for two).  The pairwise layer exists when there are three species
or more (``coloc_<a>_<b>``).
"""

from __future__ import annotations

import itertools
import logging

import folium
import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.config.maps import MapConfig
from gridcarbon.contracts import colocation_set_name
from gridcarbon.errors import InputDataError
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.maps.elements import FeatureTooltip, GeoJson, LayerLegend, in_group
from gridcarbon.maps.geometry import cell_polygons_lonlat, features
from gridcarbon.maps.scales import categorical_legend_section
from gridcarbon.species import Species

__all__ = [
    "PAIRWISE_LAYER_NAME",
    "COLOCATED_COLOUR",
    "PAIR_COLOURS",
    "CONF_OPACITY",
    "colocated_layer_name",
    "hotspot_kinds",
    "hotspot_cells",
    "add_hotspots",
]

log = logging.getLogger(__name__)

PAIRWISE_LAYER_NAME = "Hotspots: pairwise"

#: Fill of co-located cells; pairs take :data:`PAIR_COLOURS` in the order of their species.
COLOCATED_COLOUR = "#b2182b"
PAIR_COLOURS = (
    "#ef8a62",
    "#7b3294",
    "#2166ac",
    "#1b7837",
    "#e08214",
    "#c51b7d",
    "#35978f",
    "#8c510a",
    "#762a83",
    "#4d9221",
)
#: Fill opacity by the confidence a cell reaches in most of its hot steps.
CONF_OPACITY = {"99%": 0.85, "95%": 0.6, "90%": 0.35, "unknown": 0.5}

#: Confidence of a bin (1, 2, 3 → BH-significant at q = 0.10, 0.05, 0.01).
CONFIDENCE = {1: "90%", 2: "95%", 3: "99%"}

_ALL_OF = {2: "both", 3: "all three", 4: "all four", 5: "all five"}


def colocated_layer_name(species: tuple[Species, ...]) -> str:
    """``"Hotspots: co-located A+B+C"`` for the run's species."""
    return "Hotspots: co-located " + "+".join(s.name for s in species)


def hotspot_kinds(species: tuple[Species, ...]) -> dict[str, tuple[str, str]]:
    """Kind label → (Dataset variable, colour): the co-located set first, then each pair
    (only with three species or more)."""
    names = tuple(s.name for s in species)
    kinds = {"+".join(names): (f"coloc_{colocation_set_name(names)}", COLOCATED_COLOUR)}
    if len(names) >= 3:
        for k, (a, b) in enumerate(itertools.combinations(names, 2)):
            kinds[f"{a}+{b}"] = (f"coloc_{a}_{b}", PAIR_COLOURS[k % len(PAIR_COLOURS)])
    return kinds


def _steps(ds: xr.Dataset, name: str) -> np.ndarray:
    """``(steps, y, x)`` int8 bins of variable ``name`` (one step without a time dimension)."""
    has_time = "time" in ds[name].dims
    v = ds[name].transpose(*(("time",) if has_time else ()), "y", "x").values
    v = np.nan_to_num(np.asarray(v, dtype=float), nan=0.0).astype(np.int8)
    return v if has_time else v[None]


def hotspot_cells(
    hotspots: xr.Dataset, species: tuple[Species, ...], grid: GridSpec | None = None
) -> pd.DataFrame:
    """Per-cell counts of co-located and pairwise hotspot steps.

    A cell-step is co-located where ``coloc_<set>`` > 0 and pairwise where ``coloc_<a>_<b>``
    > 0 but not co-located; its confidence is the variable's bin (the weakest of the species
    involved).  Pairs missing from the Dataset are left out.

    Returns
    -------
    DataFrame
        One row per (cell, kind) with at least one hot step: ``row``, ``col``, ``kind``
        (``"A+B+C"`` or a pair ``"A+B"``), ``n_steps`` (hot steps), ``share`` (of all steps),
        ``n_99``, ``n_95``, ``n_90`` (steps at each confidence), ``confidence`` (the one
        reached in most of its hot steps).
    """
    kinds = hotspot_kinds(species)
    (all_kind, (all_var, _)), *pairs = kinds.items()
    if all_var not in hotspots:
        raise InputDataError(
            f"hotspot Dataset has no {all_var!r} (co-located {all_kind}); variables: "
            f"{list(hotspots.data_vars)}"
        )
    n_steps = int(hotspots.sizes["time"]) if "time" in hotspots[all_var].dims else 1
    rows = []

    def add(kind: str, hot: np.ndarray, bins: np.ndarray) -> None:
        count = hot.sum(axis=0)
        rr, cc = np.nonzero(count)
        if rr.size == 0:
            return
        df = pd.DataFrame({"row": rr, "col": cc, "kind": kind, "n_steps": count[rr, cc]})
        for level in (3, 2, 1):
            df[f"n_{CONFIDENCE[level][:2]}"] = ((bins == level) & hot).sum(axis=0)[rr, cc]
        stack = df[["n_99", "n_95", "n_90"]].to_numpy()
        df["confidence"] = np.array(["99%", "95%", "90%"])[np.argmax(stack, axis=1)]
        rows.append(df)

    colocated = _steps(hotspots, all_var)
    add(all_kind, colocated > 0, np.clip(colocated, 0, 3))
    for kind, (var, _) in pairs:
        if var not in hotspots:
            log.info("map: the hotspot Dataset has no %s; no %s cells", var, kind)
            continue
        pair = _steps(hotspots, var)
        add(kind, (pair > 0) & (colocated == 0), np.clip(pair, 0, 3))
    cols = ["row", "col", "kind", "n_steps", "n_99", "n_95", "n_90", "confidence"]
    if not rows:
        return pd.DataFrame(columns=[*cols, "share"])
    out = pd.concat(rows, ignore_index=True)[cols]
    out["share"] = out["n_steps"] / n_steps
    if grid is not None:
        out = out[(out["row"] < grid.ny) & (out["col"] < grid.nx)]
    return out.reset_index(drop=True)


def add_hotspots(
    m: folium.Map,
    grid: GridSpec,
    hotspots: xr.Dataset,
    species: tuple[Species, ...],
    cfg: MapConfig,
) -> list[str]:
    """Draw the co-located layer (shown) and, with three species or more, the pairwise layer
    (hidden when the map opens), with tooltips and legends; returns the layer names."""
    kinds = hotspot_kinds(species)
    cells = hotspot_cells(hotspots, species, grid)
    cells = cells[cells["n_steps"] >= cfg.hotspot_min_steps]
    all_kind = next(iter(kinds))
    groups = [("colocated", colocated_layer_name(species), [all_kind])]
    if len(kinds) > 1:
        groups.append(("pairwise", PAIRWISE_LAYER_NAME, list(kinds)[1:]))
    colour = {k: c for k, (_, c) in kinds.items()}
    names = []
    for key, layer_name, members in groups:
        sub = cells[cells["kind"].isin(members)].reset_index(drop=True)
        geoms = cell_polygons_lonlat(grid, sub["row"].to_numpy(), sub["col"].to_numpy())
        props = [
            {
                "kind": str(r.kind),
                "hot_steps": int(r.n_steps),
                "share": f"{100 * r.share:.1f}%",
                "confidence": str(r.confidence),
                "n_99_95_90": f"{int(r.n_99)} / {int(r.n_95)} / {int(r.n_90)}",
                "cell": f"row {int(r.row)}, col {int(r.col)}",
            }
            for r in sub.itertuples()
        ]
        colocated = key == "colocated"

        def style(f, colocated=colocated):
            p = f["properties"]
            fill = colour.get(p["kind"], "#999999")
            return {
                "fillColor": fill,
                "fillOpacity": CONF_OPACITY.get(p["confidence"], 0.5),
                "color": "#3b0000" if colocated else fill,
                "weight": 1.2 if colocated else 0.6,
                "dashArray": None if colocated else "3 2",
            }

        layer = GeoJson(
            features(geoms, props, cfg.coordinate_decimals + 1),
            name=layer_name,
            style_function=style,
            show=colocated,
        )
        in_group(layer, "Hotspots").add_to(m)
        FeatureTooltip(
            layer,
            fields=["kind", "confidence", "hot_steps", "share", "n_99_95_90", "cell"],
            aliases=[
                "hotspot",
                "confidence (most steps)",
                "hot time steps",
                "share of steps",
                "steps at 99 / 95 / 90 %",
                "grid cell",
            ],
            class_name="gc-tooltip",
        ).add_to(m)
        suffix = f" ({_ALL_OF.get(len(species), f'all {len(species)}')})" if colocated else ""
        section = categorical_legend_section(layer_name, [(colour[k], k + suffix) for k in members])
        section["rows"] += [
            {"color": colour[members[0]], "label": f"{c} confidence", "opacity": CONF_OPACITY[c]}
            for c in ("99%", "95%", "90%")
        ]
        section["note"] = f"{len(sub)} cell(s); Gi* with BH false-discovery control"
        LayerLegend(layer, [section], key, position="bottomright").add_to(m)
        names.append(layer_name)
    return names
