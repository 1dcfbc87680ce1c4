"""Hotspots of each species, their co-location, the chance baselines, and per-unit figures.

Fields are the total emission per cell (area + point sources, :func:`total_grid`) per hour, or
summed to Beijing days / months.  For each species and time step: the hotspot statistic's z
(``zoning.hotspot_statistic``, a callable chosen by name: :func:`register_statistic`; Getis-Ord
Gi* of :mod:`.gistar` by default), then Benjamini–Hochberg bins.  A cell-time is a **co-located
hotspot** when it is hot (bin ≥ ``hotspot_min_bin``) in every species of a set: all the species
together, and every pair.  Its confidence bin is the weakest of the species' bins.

Two baselines say whether co-location is more than chance:

* **independence**: if each species' hot cells at time *t* were placed at random among the
  ``n`` region cells, the expected count of a set of ``k`` species is ``Σ_t Π h_s / n^(k-1)``;
* **toroidal shift**: the hot maps of every species of the set but the first are shifted (with
  wrap-around) by random offsets of at least twice the radius from the first and from one
  another, the same offsets for every time step, which keeps each map's spatial clustering and
  temporal pattern but breaks the alignment between species;
  ``p = (1 + #{null ≥ observed}) / (K + 1)``.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xarray as xr

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.contracts import EMERGING_CATEGORIES, HotspotStatistic, pathway_for
from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.kernels.colocation import shift_counts, shift_counts_many
from gridcarbon.kernels.threads import chunk_count
from gridcarbon.zoning.emerging import MIN_BINS, classify_emerging
from gridcarbon.zoning.gistar import fdr_bins, gi_star
from gridcarbon.zoning.tally import aggregate_time, sparse_time_matmul

__all__ = [
    "DEFAULT_STATISTIC",
    "add_day_fields",
    "colocation_sets",
    "hotspot_level",
    "month_fields_of_days",
    "region_mask",
    "register_statistic",
    "set_name",
    "whole_set_name",
    "species_fields",
    "statistic",
    "statistic_label",
    "statistic_names",
    "toroidal_null",
    "unit_hotspot_table",
]

log = logging.getLogger(__name__)


#: The statistic of ``zoning.hotspot_statistic`` by default.
DEFAULT_STATISTIC = "gi_star"

_STATISTICS: dict[str, tuple[HotspotStatistic, str]] = {}


def register_statistic(name: str, fn: HotspotStatistic, label: str | None = None) -> None:
    """Make ``fn`` available as the hotspot statistic ``name`` (``zoning.hotspot_statistic``).

    Parameters
    ----------
    name : str
        The name the configuration uses; letters, digits and underscores.
    fn : callable
        ``fn(fields, mask, radius_m, cell_size_m) -> z``: ``fields`` ``(nt, ny, nx)`` (emission
        per cell and time step: kg h-1 for hours, kg for days and months), ``mask`` ``(ny, nx)``
        bool (the region's cells), ``radius_m`` (``zoning.gi_radius_m``) and ``cell_size_m``,
        metres; ``z`` ``(nt, ny, nx)``: standard-normal scores (positive = hot), NaN outside
        the mask.  Their two-sided p-values are binned under Benjamini–Hochberg control
        (:func:`~gridcarbon.zoning.gistar.fdr_bins`), and co-location and the emerging-hotspot
        analysis work on those bins and scores.
    label : str, optional
        How reports and NetCDF attributes name it (default ``name``).

    Raises
    ------
    ConfigError
        A name that is not an identifier, one registered already (to another function), or an
        ``fn`` that is not callable.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(
            f"hotspot statistic name {name!r} must be letters, digits and underscores"
        )
    if not callable(fn):
        raise ConfigError(f"hotspot statistic {name!r}: {fn!r} is not callable")
    known = _STATISTICS.get(name)
    if known is not None and known[0] is not fn:
        raise ConfigError(
            f"a hotspot statistic {name!r} is registered already ({known[1]}); choose another name"
        )
    _STATISTICS[name] = (fn, label or name)


def statistic(name: str) -> HotspotStatistic:
    """The hotspot statistic registered as ``name``; ConfigError listing the registered ones."""
    try:
        return _STATISTICS[name][0]
    except KeyError:
        raise ConfigError(
            f"zoning.hotspot_statistic {name!r} is not a registered hotspot statistic; registered: "
            f"{sorted(_STATISTICS)} (register one with "
            "gridcarbon.zoning.hotspots.register_statistic(name, fn))"
        ) from None


def statistic_label(name: str) -> str:
    """How reports name the statistic ``name``."""
    statistic(name)
    return _STATISTICS[name][1]


def statistic_names() -> tuple[str, ...]:
    """The registered hotspot statistics, sorted."""
    return tuple(sorted(_STATISTICS))


def _gi_star_z(
    fields: np.ndarray, mask: np.ndarray, radius_m: float, cell_size_m: float
) -> np.ndarray:
    """Getis-Ord Gi* z-scores (float32) of :func:`~gridcarbon.zoning.gistar.gi_star`."""
    return gi_star(fields, mask, radius_m, cell_size_m, out=np.empty(fields.shape, np.float32))


register_statistic(DEFAULT_STATISTIC, _gi_star_z, "Getis-Ord Gi*")


def statistic_z(
    name: str, fields: np.ndarray, mask: np.ndarray, radius_m: float, cell_size_m: float
) -> np.ndarray:
    """z of the statistic ``name`` on ``fields``, checked: float32 ``fields.shape``."""
    z = statistic(name)(fields, mask, radius_m, cell_size_m)
    z = np.asarray(z)
    if z.shape != fields.shape or z.dtype.kind != "f":
        raise InputDataError(
            f"hotspot statistic {name!r} returned {z.dtype} of shape {z.shape}; it must return "
            f"floating-point z-scores of the fields' shape {fields.shape}"
        )
    return z.astype(np.float32, copy=False)


def region_mask(grids: xr.Dataset, min_fraction: float = 0.0) -> np.ndarray:
    """Cells inside the region: ``region_fraction > min_fraction`` (all cells if absent)."""
    if "region_fraction" in grids:
        return np.asarray(grids["region_fraction"].values > min_fraction)
    return np.ones((grids.sizes["y"], grids.sizes["x"]), bool)


def species_fields(
    grids: xr.Dataset, species: str, level: str, total: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Total (area + point) emission per cell at ``level`` (hour: kg h-1; day/month: kg).

    Day fields sum each cell's hours in float64 in time order; month fields sum the day fields
    in day order (:func:`month_fields_of_days`), as the zoning stage on Dask workers sums them
    from day tasks.  ``total`` is the hourly ``total_grid(grids, species)`` if already computed.
    Returns ``(fields (nbin, ny, nx), bin labels in Beijing time)``.
    """
    from gridcarbon.grids.dataset import total_grid

    tot = total_grid(grids, species).values if total is None else total
    time = grids["time"].values
    if level == "hour":
        return tot, (pd.DatetimeIndex(time) + pd.Timedelta(hours=8)).values
    if level == "month":
        return month_fields_of_days(*species_fields(grids, species, "day", tot))
    sums, labels = aggregate_time(tot.reshape(tot.shape[0], -1), time, level, axis=0)
    return sums.reshape((-1,) + tot.shape[1:]), labels


def add_day_fields(acc: np.ndarray | None, day_fields: np.ndarray) -> np.ndarray:
    """``acc`` plus the fields ``day_fields`` (``(ndays, ...)``) one day after another, in
    float64 (``acc`` None: starting from the first day's field, copied).

    The one order in which every path sums a month field from its days (in memory, block by
    block, or in the process that gathers the days of Dask tasks), so that the month fields
    are equal to the last bit however the days arrive.  ``acc`` is added to in place.
    """
    for field in day_fields:
        if acc is None:
            acc = np.array(field, dtype=np.float64)
        else:
            acc += field
    if acc is None:
        raise InputDataError("a month field needs at least one day field")
    return acc


def month_fields_of_days(
    day_fields: np.ndarray, day_labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Month fields (kg) from day fields: each Beijing month's day fields summed in float64 in
    day order (:func:`add_day_fields`).

    Parameters
    ----------
    day_fields : ndarray ``(ndays, ...)``
        Fields per Beijing day (kg), days in order.
    day_labels : ndarray ``(ndays,)`` datetime64
        The Beijing dates of the days (naive, UTC+8), sorted.

    Returns
    -------
    ``(fields (nmonths, ...) float64, labels)``: the labels the first of each Beijing month, as
    :func:`~gridcarbon.zoning.tally.beijing_labels` gives them.
    """
    months = pd.DatetimeIndex(day_labels).to_period("M").to_timestamp().values
    if months.size != day_fields.shape[0]:
        raise InputDataError(
            f"{day_fields.shape[0]} day fields but {months.size} day labels; give one label a day"
        )
    starts = np.flatnonzero(np.r_[True, months[1:] != months[:-1]])
    if not np.all(np.diff(months[starts]) > np.timedelta64(0)):
        raise InputDataError("the days must be sorted to sum them to months")
    out = np.empty((starts.size, *day_fields.shape[1:]), np.float64)
    for i, (a, b) in enumerate(zip(starts, np.r_[starts[1:], months.size], strict=True)):
        out[i] = add_day_fields(None, day_fields[a:b])
    return out, months[starts]


def colocation_sets(species: Sequence[str]) -> list[tuple[str, ...]]:
    """The species sets tested: all species together (three or more), then every pair."""
    sets: list[tuple[str, ...]] = []
    if len(species) >= 3:
        sets.append(tuple(species))
    sets.extend(itertools.combinations(species, 2))
    return sets


def set_name(s: tuple[str, ...]) -> str:
    """Variable-name stem of a species set: ``all`` for all the species (three or more), the
    two names joined by ``_`` for a pair."""
    return "all" if len(s) >= 3 else "_".join(s)


def whole_set_name(species: Sequence[str]) -> str | None:
    """Stem of the set of every species (``all``; the pair's stem for two species; None for
    one species, which has no co-location)."""
    sets = colocation_sets(species)
    return set_name(sets[0]) if sets else None


#: Attempts per shift before the grid is declared too small for the shifts asked for.
_SHIFT_ATTEMPTS = 1000


def _random_shifts(
    ny: int, nx: int, K: int, min_cells: float, rng: np.random.Generator, n_maps: int = 3
) -> np.ndarray:
    """``K`` toroidal shifts, one ``(dy, dx)`` for each map but the first, in cells.

    Every map lies at least ``min_cells`` (on the torus) from the first and from every other.
    A pair draws the shifts of two maps all the same (the second unused), so that the null of
    a pair and of a triple come from one sequence of draws.  Returns ``(K, 2 m)`` int64 with
    ``m = max(n_maps - 1, 2)``.
    """
    m = max(n_maps - 1, 2)

    def far(dy: int, dx: int) -> bool:
        return math.hypot(min(dy, ny - dy), min(dx, nx - dx)) >= min_cells

    out: list[list[int]] = []
    for _ in range(_SHIFT_ATTEMPTS * max(K, 1)):
        if len(out) == K:
            break
        s = [(rng.integers(0, ny), rng.integers(0, nx)) for _ in range(m)]
        if all(far(dy, dx) for dy, dx in s) and all(
            far((s[b][0] - s[a][0]) % ny, (s[b][1] - s[a][1]) % nx)
            for a, b in itertools.combinations(range(m), 2)
        ):
            out.append([int(v) for pair in s for v in pair])
    if len(out) < K:
        raise InputDataError(
            f"a grid of {ny} × {nx} cells has no room for {m + 1} maps {min_cells:.1f} cells "
            "(twice zoning.gi_radius_m) apart on the torus: set zoning.toroidal_shifts: 0 or "
            "use a larger grid"
        )
    return np.asarray(out, np.int64).reshape(K, 2 * m)


def toroidal_null(
    hot: Sequence[np.ndarray], n_shifts: int, min_shift_cells: float, seed: int
) -> np.ndarray:
    """Co-location counts of ``hot[0] & shift_1(hot[1]) & shift_2(hot[2]) & ...`` for random
    shifts (:func:`_random_shifts`).

    ``hot`` are two or more (nt, ny, nx) bool maps (False outside the region).  Returns
    ``n_shifts`` counts.
    """
    if len(hot) < 2:
        raise InputDataError(f"co-location needs two or more hot maps, got {len(hot)}")
    nt, ny, nx = hot[0].shape
    rng = np.random.default_rng(seed)
    shifts = _random_shifts(ny, nx, n_shifts, min_shift_cells, rng, len(hot))
    h1 = hot[0].reshape(nt, -1)
    counts = h1.sum(axis=1)
    ptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
    idx = np.flatnonzero(h1.ravel()) % (ny * nx)
    rows, cols = (idx // nx).astype(np.int64), (idx % nx).astype(np.int64)
    out = np.empty(n_shifts, np.int64)
    nchunks = chunk_count(nt)
    if len(hot) <= 3:  # the unrolled kernel: 1.2–1.5 times faster for pairs and triples
        h2 = np.ascontiguousarray(hot[1].reshape(nt, -1))
        h3 = np.ascontiguousarray(hot[2].reshape(nt, -1)) if len(hot) == 3 else h2
        shift_counts(ptr, rows, cols, h2, h3, len(hot) == 3, shifts, nx, ny, nchunks, out)
    else:
        others = np.ascontiguousarray(np.stack([h.reshape(nt, -1) for h in hot[1:]]))
        shift_counts_many(ptr, rows, cols, others, shifts, nx, ny, nchunks, out)
    return out


def hotspot_level(
    grids: xr.Dataset,
    level: str,
    config: ZoningConfig | None = None,
    species: Sequence[str] = (),
    emerging: bool = False,
    totals: dict[str, np.ndarray] | None = None,
    keep_z: bool = True,
    fields: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    scored: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
    null_counts: Callable[[tuple[str, ...]], np.ndarray] | None = None,
) -> xr.Dataset:
    """Hotspot z, BH bins, co-location and baselines of every species at one time ``level``.

    Parameters
    ----------
    grids : emission Dataset
    level : "hour", "day" or "month"
    config : ZoningConfig (statistic, radius, q levels, hot threshold, shifts, seed)
    species : names of the species (variables of ``grids``), one or more
    emerging : also run the emerging-hotspot analysis over the bins (needs ≥ 10 bins)
    totals : species → hourly ``total_grid`` arrays, to avoid recomputing them per level
    keep_z : keep the z-scores in the Dataset (False drops them after binning to save space)
    fields : species → ``(fields (nbin, ny, nx), Beijing bin labels)`` at ``level``, already
        summed (e.g. month by month from a store, :func:`gridcarbon.zoning.stage.stream_fields`);
        then the grids' emission variables are not read
    scored : species → ``(z (nbin, ny, nx) float32, bins (nbin, ny, nx) int8, Beijing bin
        labels)`` at ``level``, already computed field by field (e.g. on Dask workers,
        :mod:`gridcarbon.zoning.distributed`); then neither the grids nor ``fields`` are read
    null_counts : called with a species set, returns its toroidal-null counts (those of
        :func:`toroidal_null` of the set's hot maps with ``zoning.toroidal_shifts`` and
        ``zoning.seed``, e.g. summed over time chunks on workers); default: computed here

    Returns
    -------
    xr.Dataset with dims ``(time, y, x)`` (``time`` = Beijing bin start, UTC+8, naive):
    ``<sp>_z`` (float32), ``<sp>_bin`` (int8, −3..3), ``coloc_<set>`` (int8: 0 = not co-located,
    1..3 = weakest bin among the set), ``n_hot_<sp>``/``n_coloc_<set>``/
    ``expected_coloc_<set>`` (time); ``region_mask``; ``lon``/``lat``; ``crs``; with
    ``emerging``, ``<sp>_emerging`` (y, x) category codes and ``<sp>_mk_z``/``<sp>_mk_p``/
    ``<sp>_mk_tau``.  Attributes hold the co-location summary (``colocation_json``).
    """
    cfg = config or ZoningConfig()
    if not species:
        raise InputDataError("hotspot_level needs the species to test (species=)")
    label = statistic_label(cfg.hotspot_statistic)
    mask = region_mask(grids, cfg.region_min_fraction)
    n = int(mask.sum())
    cell = float(grids.attrs.get("cell_size_m", abs(float(grids.x[1] - grids.x[0]))))
    data: dict[str, tuple] = {}
    hot: dict[str, np.ndarray] = {}
    bins: dict[str, np.ndarray] = {}
    zs: dict[str, np.ndarray] = {}
    labels = None
    for s in species:
        if scored is not None:
            z, b, labels = scored[s]
        else:
            if fields is not None:
                level_fields, labels = fields[s]
            else:
                level_fields, labels = species_fields(grids, s, level, (totals or {}).get(s))
            z = statistic_z(cfg.hotspot_statistic, level_fields, mask, cfg.gi_radius_m, cell)
            b = fdr_bins(z, mask, cfg.fdr_levels)
        bins[s] = b
        hot[s] = b >= cfg.hotspot_min_bin
        zs[s] = z
        z_attrs = {"long_name": f"{label} z-score of {s} (area + point sources)", "units": "1"}
        if cfg.hotspot_statistic == DEFAULT_STATISTIC:
            z_attrs["weights"] = (
                f"binary distance band {cfg.gi_radius_m} m, focal cell included, cells outside "
                "the region excluded"
            )
        else:
            z_attrs["statistic"] = cfg.hotspot_statistic
        data[f"{s}_z"] = (("time", "y", "x"), z, z_attrs)
        data[f"{s}_bin"] = (
            ("time", "y", "x"),
            b,
            {
                "long_name": f"{s} hot/cold-spot confidence bin (Benjamini–Hochberg per time step)",
                "flag_values": np.arange(-3, 4, dtype=np.int8),
                "flag_meanings": "cold_q0.01 cold_q0.05 cold_q0.10 not_significant hot_q0.10 "
                "hot_q0.05 hot_q0.01",
            },
        )
        data[f"n_hot_{s}"] = (
            ("time",),
            hot[s].reshape(hot[s].shape[0], -1).sum(axis=1),
            {"long_name": f"number of {s} hotspot cells in the time step", "units": "1"},
        )
    summary = []
    for combo in colocation_sets(species):
        name = set_name(combo)
        allhot = np.logical_and.reduce([hot[s] for s in combo])
        weakest = np.minimum.reduce([np.abs(bins[s]) for s in combo]).astype(np.int8)
        data[f"coloc_{name}"] = (
            ("time", "y", "x"),
            np.where(allhot, weakest, 0).astype(np.int8),
            {
                "long_name": f"co-located hotspot of {'+'.join(combo)}: weakest confidence bin "
                "(0 = not co-located)",
                "flag_values": np.arange(0, 4, dtype=np.int8),
                "flag_meanings": "none q0.10 q0.05 q0.01",
            },
        )
        obs_t = allhot.reshape(allhot.shape[0], -1).sum(axis=1)
        h = [hot[s].reshape(hot[s].shape[0], -1).sum(axis=1).astype(np.float64) for s in combo]
        exp_t = np.prod(h, axis=0) / float(n) ** (len(combo) - 1)
        data[f"n_coloc_{name}"] = (
            ("time",),
            obs_t,
            {
                "long_name": f"number of co-located {'+'.join(combo)} hotspot cells in the time step",
                "units": "1",
            },
        )
        data[f"expected_coloc_{name}"] = (
            ("time",),
            exp_t,
            {
                "long_name": "expected co-located cells if the species' hot cells were independent",
                "units": "1",
            },
        )
        obs, exp = int(obs_t.sum()), float(exp_t.sum())
        row = {
            "level": level,
            "set": "+".join(combo),
            "observed_cell_steps": obs,
            "expected_independent": exp,
            "ratio_to_independent": obs / exp if exp > 0 else float("nan"),
            "n_steps": int(allhot.shape[0]),
            "n_region_cells": n,
        }
        if cfg.toroidal_shifts > 0 and obs > 0:
            if null_counts is not None:
                null = np.asarray(null_counts(combo))
            else:
                null = toroidal_null(
                    [hot[s] for s in combo],
                    cfg.toroidal_shifts,
                    2 * cfg.gi_radius_m / cell,
                    cfg.seed,
                )
            row.update(
                {
                    "toroidal_null_mean": float(null.mean()),
                    "toroidal_null_p95": float(np.percentile(null, 95)),
                    "ratio_to_toroidal": obs / null.mean() if null.mean() > 0 else float("inf"),
                    "toroidal_p": float((1 + (null >= obs).sum()) / (null.size + 1)),
                    "n_shifts": int(null.size),
                }
            )
        else:
            row.update(
                {
                    "toroidal_null_mean": float("nan"),
                    "toroidal_null_p95": float("nan"),
                    "ratio_to_toroidal": float("nan"),
                    "toroidal_p": float("nan"),
                    "n_shifts": 0,
                }
            )
        summary.append(row)
    coords = {
        "time": ("time", labels, {"long_name": f"start of the Beijing {level} (UTC+8)"}),
        "y": grids["y"],
        "x": grids["x"],
    }
    for c in ("lon", "lat"):
        if c in grids.coords:
            coords[c] = grids[c]
    data["region_mask"] = (
        ("y", "x"),
        mask.astype(np.int8),
        {"long_name": "cell inside the region and in the Gi* analysis"},
    )
    if "crs" in grids:
        data["crs"] = grids["crs"]
    ds = xr.Dataset(data, coords=coords)
    if emerging:
        if ds.sizes["time"] < MIN_BINS:
            raise InputDataError(
                f"emerging-hotspot analysis needs at least {MIN_BINS} {level} bins, the period "
                f"has {ds.sizes['time']}"
            )
        for s in species:
            codes, mk = classify_emerging(
                zs[s].astype(np.float64), bins[s], cfg.emerging_alpha, cfg.emerging_min_bin
            )
            codes = np.where(mask, codes, -1).astype(np.int8)
            ds[f"{s}_emerging"] = (
                ("y", "x"),
                codes,
                {
                    "long_name": f"{s} emerging-hotspot category over {level} bins (within-period "
                    "trend; -1 = outside the region)",
                    "flag_values": np.arange(len(EMERGING_CATEGORIES), dtype=np.int8),
                    "flag_meanings": " ".join(c.replace(" ", "_") for c in EMERGING_CATEGORIES),
                },
            )
            # -1 outside the region: the files write it as the variable's missing value
            ds[f"{s}_emerging"].encoding["_FillValue"] = np.int8(-1)
            for key, stat, what in (
                ("z", "z", "z-score"),
                ("p", "p", "p-value"),
                ("tau", "Tau", "Kendall's tau"),
            ):
                ds[f"{s}_mk_{key}"] = (
                    ("y", "x"),
                    mk[stat].astype(np.float32),
                    {
                        "long_name": f"Mann-Kendall trend {what} of the {s} {label} z over {level} bins",
                        "units": "1",
                    },
                )
    if not keep_z:
        ds = ds.drop_vars([f"{s}_z" for s in species])
    ds.attrs.update(
        {
            "level": level,
            "gi_radius_m": cfg.gi_radius_m,
            "fdr_levels": json.dumps(list(cfg.fdr_levels)),
            "hotspot_min_bin": cfg.hotspot_min_bin,
            "colocation_json": json.dumps(summary),
            "synthetic": grids.attrs.get("synthetic", "unknown"),
        }
    )
    return ds


def _emission_in_coloc(
    F: sp.csr_matrix,
    area_fields: np.ndarray,
    coloc: np.ndarray,
    point_unit: np.ndarray | None,
    point_cell: np.ndarray | None,
    point_vals: np.ndarray | None,
) -> np.ndarray:
    """Per unit, Σ over bins of the unit's emission in cells flagged by ``coloc`` (nbin, ncell)."""
    nb_ = coloc.shape[0]
    masked = (area_fields.reshape(nb_, -1) * coloc.reshape(nb_, -1)).astype(np.float64)
    out = sparse_time_matmul(F, masked).sum(axis=0)
    if point_unit is not None and point_vals is not None and point_unit.size:
        inside = point_unit >= 0
        flags = coloc.reshape(nb_, -1)[:, point_cell[inside]]
        vals = (point_vals[:, inside] * flags).sum(axis=0)
        np.add.at(out, point_unit[inside], vals)
    return out


def unit_hotspot_table(
    grids: xr.Dataset,
    units: pd.DataFrame,
    F: sp.csr_matrix,
    point_unit: np.ndarray | None,
    day: xr.Dataset,
    hour: xr.Dataset | None,
    species: Sequence[str],
    cell_area_m2: float,
    daily: Mapping[str, tuple[np.ndarray, np.ndarray | None]] | None = None,
) -> pd.DataFrame:
    """Per-unit hotspot figures from the daily (and, if given, hourly) hotspot Datasets.

    Columns (``<set>`` = ``all`` or a pair such as ``A_B`` of species A and B):
    ``coloc_<set>_cell_days`` (Σ days Σ cells F·flag, cell-day equivalents),
    ``coloc_<set>_km2_days``, ``coloc_<set>_area_km2`` (unit area ever co-located),
    ``coloc_<all>_share_<sp>`` (share of the unit's period emission of <sp> in cell-days where
    every species is co-located), ``coloc_<set>_expected`` and ``coloc_<set>_obs_exp`` (observed / expected if the
    species' hot areas inside the unit were independent day by day), ``hot_<sp>_cell_days``,
    ``emerging_<sp>`` (dominant category by area), ``emerging_<sp>_share``,
    with hourly data ``coloc_<all>_cell_hours``, ``coloc_<all>_hours`` (unit-area mean) and
    ``coloc_<all>_any_hours`` (hours with any co-location in the unit); ``pathway``/
    ``pathway_zh``.  ``<all>`` is the set of every species: ``all``, or the pair's stem for two
    species (:func:`whole_set_name`).

    ``daily``: species → (area sources summed to Beijing days ``(ndays, ny, nx)`` kg, point
    sources summed to days ``(ndays, npoints)`` kg or None), already computed (e.g. month by
    month from a store); then the grids' emission variables are not read.
    """
    A = np.asarray(F.sum(axis=1)).ravel()
    whole = whole_set_name(species)
    out = pd.DataFrame({"unit_code": units["unit_code"].to_numpy()})
    nd = day.sizes["time"]
    cell_km2 = cell_area_m2 / 1e6
    hot_area = {}
    for s in species:
        h = (day[f"{s}_bin"].values >= int(day.attrs["hotspot_min_bin"])).reshape(nd, -1)
        hot_area[s] = sparse_time_matmul(F, h.astype(np.float32))  # (nd, nu)
        out[f"hot_{s}_cell_days"] = hot_area[s].sum(axis=0)
    point_cell = None
    if point_unit is not None and "point_row" in grids.coords:
        point_cell = grids["point_row"].values.astype(np.int64) * grids.sizes["x"] + grids[
            "point_col"
        ].values.astype(np.int64)

    for combo in colocation_sets(species):
        name = set_name(combo)
        flag = (day[f"coloc_{name}"].values > 0).reshape(nd, -1)
        per_day = sparse_time_matmul(F, flag.astype(np.float32))  # (nd, nu)
        out[f"coloc_{name}_cell_days"] = per_day.sum(axis=0)
        out[f"coloc_{name}_km2_days"] = out[f"coloc_{name}_cell_days"] * cell_km2
        out[f"coloc_{name}_area_km2"] = (F @ flag.any(axis=0).astype(np.float64)) * cell_km2
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = np.sum(
                np.prod([hot_area[s] for s in combo], axis=0)
                / np.where(A > 0, A, np.nan) ** (len(combo) - 1),
                axis=0,
            )
            out[f"coloc_{name}_expected"] = expected
            out[f"coloc_{name}_obs_exp"] = np.where(
                expected > 0, out[f"coloc_{name}_cell_days"] / expected, np.nan
            )
        if name == whole:
            for s in species:
                if daily is not None:
                    area_day, pv = daily[s]
                else:
                    area_day, pv = daily_area_and_points(grids, s, point_unit is not None)
                num = _emission_in_coloc(F, area_day, flag, point_unit, point_cell, pv)
                total = sparse_time_matmul(F, area_day.reshape(nd, -1)).sum(axis=0)
                if pv is not None:
                    inside = point_unit >= 0
                    np.add.at(total, point_unit[inside], pv[:, inside].sum(axis=0))
                with np.errstate(divide="ignore", invalid="ignore"):
                    out[f"coloc_{name}_share_{s}"] = np.where(total > 0, num / total, np.nan)
    for s in species:
        var = f"{s}_emerging"
        if var in day:
            codes = day[var].values.ravel()
            per_cat = np.stack(
                [F @ (codes == k).astype(np.float64) for k in range(len(EMERGING_CATEGORIES))],
                axis=1,
            )
            dom = per_cat.argmax(axis=1)
            out[f"emerging_{s}"] = [EMERGING_CATEGORIES[k] for k in dom]
            with np.errstate(divide="ignore", invalid="ignore"):
                out[f"emerging_{s}_share"] = np.where(A > 0, per_cat.max(axis=1) / A, np.nan)
            hot_codes = np.isin(codes, np.arange(1, 9))
            out[f"emerging_{s}_hot_share"] = np.where(
                A > 0, (F @ hot_codes.astype(np.float64)) / np.where(A > 0, A, 1), np.nan
            )
        else:
            out[f"emerging_{s}"] = "not computed"
    if hour is not None and whole is not None:
        nh = hour.sizes["time"]
        flag = (hour[f"coloc_{whole}"].values > 0).reshape(nh, -1)
        per_hour = sparse_time_matmul(F, flag.astype(np.float32))
        out[f"coloc_{whole}_cell_hours"] = per_hour.sum(axis=0)
        out[f"coloc_{whole}_hours"] = np.where(
            A > 0, per_hour.sum(axis=0) / np.where(A > 0, A, 1), 0.0
        )
        out[f"coloc_{whole}_any_hours"] = (per_hour > 0).sum(axis=0)
    pw = [pathway_for(c, s) for c, s in zip(units["category"], units["subtype"], strict=True)]
    out["pathway"] = [p[0] for p in pw]
    out["pathway_zh"] = [p[1] for p in pw]
    return out


def daily_area_and_points(
    grids: xr.Dataset, species: str, with_points: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Area sources summed to Beijing days ``(ndays, ny, nx)`` kg and, with ``with_points`` and
    a point variable, the point sources summed to days ``(ndays, npoints)`` kg (else None)."""
    from gridcarbon.grids.dataset import point_variable

    area_day, _ = species_fields_area(grids, species)
    pv = None
    if with_points and point_variable(species) in grids:
        pv, _ = aggregate_time(
            grids[point_variable(species)].values, grids["time"].values, "day", axis=0
        )
    return area_day, pv


def species_fields_area(grids: xr.Dataset, species: str) -> tuple[np.ndarray, np.ndarray]:
    """Area sources only, summed to Beijing days: ``(ndays, ny, nx)`` kg, and the day labels."""
    field = grids[species]
    if "sector" in field.dims:
        field = field.sum("sector")
    arr = field.transpose("time", "y", "x").values
    sums, labels = aggregate_time(
        arr.reshape(arr.shape[0], -1), grids["time"].values, "day", axis=0
    )
    return sums.reshape((-1,) + arr.shape[1:]), labels
