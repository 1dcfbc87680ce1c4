"""Synthetic (SIMULATED) satellite Level-2 files for the default scenario, written in the real
product layouts so that the readers of :mod:`gridcarbon.io.satellite` are exercised on them.

* :func:`write_synthetic_tropomi_no2` — a TROPOMI-like daily overpass at 13:30 local solar time,
  3.5 × 5.5 km² pixels (nadir size), in the S5P L2 NO2 layout.
* :func:`write_synthetic_oco_lite` — a CO2M-like XCO2 imager swath (2 × 2 km², 250 km wide,
  11:30 local solar time, 0.7 ppm precision) in the OCO Lite layout, labelled in its global
  attributes as a CO2M-like simulation.
* :func:`write_synthetic_satellite_files` — both for a period: TROPOMI every day, the imager
  every ``imager_every_days``.

Every file carries ``synthetic = "true"`` and a ``simulation`` attribute.

**The truth's physics (deliberately not the inversion's).**  Nothing here calls the inversion's
dispersion, vertical factor, chemistry or biosphere; the truth has its own:

* fluxes (:func:`truth_fluxes`): the scenario's prior annual emissions (area maps plus point
  sources, per cell) × a seeded log-normal perturbation field (σ_ln = 0.3, correlation length
  30 km) × a midday factor of 1.15; CO2 adds its own net ecosystem exchange at midday,
  (1.5 − (10·forest + 7·cropland)·s) µmol m⁻² s⁻¹ with s = 0.15 + 0.85·summer (summer: 0 in
  mid-January, 1 in mid-July).  The OSSE's truth lives in the inversion's state space; a caller
  holding other fluxes passes them instead (:func:`fluxes_from_emissions`: an OSSE replicate's
  truth emissions at the overpass hour, so that its columns and its station observations see
  the same emissions).
* horizontal transport: one wind per overpass, the domain mean of the met's 10 m wind at the
  overpass hour × 1.4 (the truth's mixed-layer mean; at least 1.5 m s⁻¹); a column plume
  ``Q/u · exp(−x/(u·τ)) · N(y; σ_y(x))`` along the wind with σ_y = √(1.5 km² + (0.1·x)²)
  (a linear spread, not Pasquill–Gifford), truncated at 300 km; τ = 3 h for NOx (none for
  CO2), times ``lifetime_factor`` (an OSSE replicate's lifetime error).  The column field is a convolution on the grid, sampled at 3 × 3 points per pixel.
* vertical: plume mass uniform up to 0.8·z_i, tapering linearly to 0 at 1.2·z_i (z_i: the met's
  mixing height at the grid centre and overpass hour); heights from pressure with a 7.4 km scale
  height.
* NO2 = NOx × r, r = 0.75 × U(0.8, 1.2) drawn per day (molar ratio).
* free-tropospheric NO2 background 1.2e-5 mol m⁻² (uniform in pressure between 2 km and the
  tropopause); stratospheric 5e-5 mol m⁻².
* XCO2 background 415 ppm + 3 ppm·cos(2π(doy − 120)/365.25) (the a priori is 0.8 ppm lower);
  retrieval bias 0.5 ppm at the swath centre plus 0.5 ppm per 100 km along a seeded direction.

**The retrieval simulation.**

* TROPOMI: 34 TM5-like hybrid layers (:data:`TM5_LIKE_A_PA`, :data:`TM5_LIKE_B`; the shape of
  TM5's grid, not its coefficients).  Box air-mass factors m_l = M_geo·s(p_l) with the geometric
  AMF M_geo = 1/cos(SZA) + 1/cos(VZA) and a sensitivity s(p) = 0.35 + 0.65·min(1, (p_s − p)/
  (p_s − 500 hPa))^0.6 (0.35 at the surface, 1 from 500 hPa up).  The a priori profile is
  TM5-like: the truth's boundary-layer column averaged over 1° boxes, with an exponential shape
  (1 km scale height), plus the backgrounds.  The retrieval's box AMFs carry a spatially
  correlated relative error ε (σ = 0.15, correlation length 100 km): m'_l = m_l(1 + ε).  Then
  M_trop = Σ_trop m'_l x^a_l / Σ_trop x^a_l, M = Σ m'_l x^a_l / Σ x^a_l, the stored kernel is
  A_l = m'_l / M, and the retrieved column y = (Σ_trop m_l x^true_l + e_S)/M_trop with slant
  noise e_S ~ N(0, 8.6 µmol m⁻²) (van Geffen et al. 2020, AMT 13, 1315) and precision
  8.6 µmol m⁻² / M_trop (the drawn noise × ``noise_scale``: 0 switches it off, the stored
  precision stays).
* clouds: a pixel cloud fraction f = clip(μ + 0.5·g, 0, 1), g a unit Gaussian random field
  (correlation length 30 km) and μ = the Yangtze River Delta's monthly mean cloud cover
  (:data:`YRD_MONTHLY_CLOUD`, June highest, December lowest) + (the met's ``tcc`` at the overpass
  − 0.5): the synthetic met's cloud field has synoptic swings but no seasonal cycle, so its
  anomaly rides on the climatology.  Cloud radiance fraction CRF = 3f/(3f + 1 − f) (clouds three
  times as bright as the ground); NO2 ``qa_value`` = 1.0 where CRF < 0.5 and 0.74 otherwise
  (so ``qa_value > 0.75`` keeps CRF < 0.5); XCO2 ``xco2_quality_flag`` = 0 where f < 0.01.
* CO2M-like imager: 20 σ-levels (p_k = p_s·k/19), trapezoid pressure weights, column averaging
  kernel a(σ) = 1.05 − 0.35·(1 − σ)², precision 0.7 ppm; XCO2 = x_a + Σ h_k a_k (x_k − x^a_k)
  + bias + noise, the plume part integrated over the truth's vertical profile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
from scipy import ndimage, signal

from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.io.satellite import (
    OcoLiteGranule,
    TropomiNo2Granule,
    write_oco_lite,
    write_tropomi_no2_l2,
)
from gridcarbon.kernels.random_fields import cosine_mode_sum
from gridcarbon.species import CO2, NOX

__all__ = [
    "TruthFluxes",
    "truth_fluxes",
    "fluxes_from_emissions",
    "tropomi_overpass_time",
    "imager_overpass_time",
    "write_synthetic_tropomi_no2",
    "write_synthetic_oco_lite",
    "write_synthetic_satellite_files",
    "tropomi_file_name",
    "YRD_MONTHLY_CLOUD",
    "TM5_LIKE_A_PA",
    "TM5_LIKE_B",
    "SLANT_COLUMN_NOISE_MOL_M2",
]

#: Monthly mean total cloud cover over the Yangtze River Delta used by the synthetic clouds
#: (January … December): an approximate climatology with the region's shape — a maximum in June
#: (the plum-rain season), a minimum in December.  Illustrative values, not a data set.
YRD_MONTHLY_CLOUD: tuple[float, ...] = (
    0.66,
    0.70,
    0.73,
    0.71,
    0.70,
    0.80,
    0.68,
    0.64,
    0.62,
    0.56,
    0.57,
    0.52,
)

#: TROPOMI slant-column noise, mol m-2 (~0.52e15 molecules cm-2; van Geffen et al. 2020).
SLANT_COLUMN_NOISE_MOL_M2 = 8.6e-6
#: The free troposphere's NO2 column (above 2 km) of the TM5-like a priori and, by default, of
#: the truth, mol m-2.
TM5_LIKE_FREE_TROPOSPHERE_MOL_M2 = 1.2e-5

_SCALE_HEIGHT_M = 7400.0
_G = 9.80665
_M_DRY_AIR = 0.0289644  # kg mol-1
_SECONDS_PER_YEAR = 365.25 * 86400.0

# TM5-like interface heights (km) of 34 layers for a 1013.25 hPa surface: thin near the ground
_INTERFACE_KM = np.array(
    [0, 0.05, 0.15, 0.3, 0.5, 0.75, 1.0, 1.3, 1.7, 2.1, 2.6, 3.1, 3.7, 4.3, 5.0, 5.8, 6.6, 7.5,
     8.4, 9.4, 10.4, 11.5, 12.6, 13.8, 15.0, 16.5, 18.2, 20.2, 22.6, 25.5, 29.0, 33.5, 39.0,
     47.0, 60.0]
)  # fmt: skip


def _tm5_like_coefficients() -> tuple[np.ndarray, np.ndarray]:
    p_ref = 101325.0 * np.exp(-_INTERFACE_KM * 1000.0 / _SCALE_HEIGHT_M)
    # terrain-following below ~200 hPa, pure pressure above (as in a hybrid σ–p grid)
    b = np.clip((p_ref / 101325.0 - 0.2) / 0.8, 0.0, 1.0) ** 1.2
    a = p_ref - b * 101325.0
    return np.stack([a[:-1], a[1:]], axis=1), np.stack([b[:-1], b[1:]], axis=1)


#: Hybrid coefficients ``(layer, vertices)`` (bottom, top) of the 34 TM5-like layers:
#: interface pressure = a + b·p_s (a in Pa).
TM5_LIKE_A_PA, TM5_LIKE_B = _tm5_like_coefficients()

_TROPOMI_ATTRS = {
    "title": "TROPOMI/S5P NO2 1-Orbit L2 Swath 5.5x3.5km (SYNTHETIC simulation)",
    "product_name": "L2__NO2___",
    "processor_version": "2.4.0",
    "product_version": "2.4.0",
    "Conventions": "CF-1.7",
    "institution": "gridcarbon (synthetic)",
    "synthetic": "true",
    "simulation": "TROPOMI-like NO2 retrieval simulated from a synthetic truth by "
    "gridcarbon.scenario.satellite_synthetic; not satellite data",
}
_IMAGER_ATTRS = {
    "title": "CO2M-like XCO2 imager Level 2 (SYNTHETIC simulation) in the OCO Lite layout",
    "product_name": "LtCO2 (CO2M-like simulation)",
    "Conventions": "CF-1.7",
    "institution": "gridcarbon (synthetic)",
    "synthetic": "true",
    "simulation": "CO2M-like XCO2 imager (2 x 2 km2 pixels, 250 km swath, 0.7 ppm precision) "
    "simulated from a synthetic truth by gridcarbon.scenario.satellite_synthetic; CO2M flies "
    "from 2027; not satellite data",
}


@dataclass(frozen=True, eq=False)
class TruthFluxes:
    """The truth's surface fluxes at the overpass hours, kg s-1 per cell ``(ny, nx)``.

    Parameters
    ----------
    grid : GridSpec
    co2 : ndarray
        CO2 flux including net ecosystem exchange (negative: uptake), kg s-1 per cell.
    nox : ndarray
        NOx emission as NO2 mass, kg s-1 per cell.
    """

    grid: GridSpec
    co2: np.ndarray
    nox: np.ndarray


@dataclass(frozen=True)
class LateralSpread:
    """A lateral plume spread in place of the truth's own linear one — a DIAGNOSTIC of the
    OSSE (``osse.satellite_operator_lateral_spread``), never the truth's physics.

    Parameters
    ----------
    rural, urban : callable
        σ_y (m) of the downwind distance (m, array) for sources in rural and in urban cells.
    urban_cells : bool ndarray ``(ny, nx)``
        Which cells of the grid are urban.
    description : str
        What it is, for the files' ``truth_lateral_spread`` attribute.
    """

    rural: Callable[[np.ndarray], np.ndarray]
    urban: Callable[[np.ndarray], np.ndarray]
    urban_cells: np.ndarray
    description: str


def _linear_spread(along_m: np.ndarray) -> np.ndarray:
    """The truth's own lateral spread: σ_y = √(1.5 km² + (0.1·x)²), m."""
    return np.sqrt(1500.0**2 + (0.1 * along_m) ** 2)


# --------------------------------------------------------------------------------------------
# random fields and geometry


def _gaussian_field(
    x: np.ndarray, y: np.ndarray, length_m: float, rng: np.random.Generator, n_modes: int = 256
) -> np.ndarray:
    """A unit-variance Gaussian random field with a Gaussian correlation of ``length_m``,
    evaluated at points ``(x, y)`` (metres), by random Fourier modes."""
    k = rng.normal(0.0, 1.0 / length_m, size=(n_modes, 2))
    phase = rng.uniform(0, 2 * np.pi, n_modes)
    xs, ys = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
    total = cosine_mode_sum(
        np.ascontiguousarray(xs).ravel(),
        np.ascontiguousarray(ys).ravel(),
        np.ascontiguousarray(k[:, 0]),
        np.ascontiguousarray(k[:, 1]),
        phase,
    )
    return np.sqrt(2.0 / n_modes) * total.reshape(xs.shape)


def _summer(date: pd.Timestamp) -> float:
    return 0.5 * (1 - np.cos(2 * np.pi * (date.day_of_year - 15) / 365.25))


def _local_frame(grid: GridSpec) -> tuple[pyproj.Transformer, float, float]:
    """An azimuthal equidistant frame centred on the grid, its transformer to lon/lat and the
    grid centre's lon/lat."""
    x0, y0, x1, y1 = grid.bounds
    lon0, lat0 = (float(v) for v in grid.unproject((x0 + x1) / 2, (y0 + y1) / 2))
    aeqd = pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m")
    return pyproj.Transformer.from_crs(aeqd, "EPSG:4326", always_xy=True), lon0, lat0


def _swath_pixels(
    grid: GridSpec,
    rng: np.random.Generator,
    across_m: float,
    along_m: float,
    heading_deg: float,
    margin_m: float,
    swath_half_width_m: float | None = None,
):
    """Pixel corners covering the grid's bounds plus ``margin_m`` in a rotated along/across
    frame.  Returns corner x/y ``(n_along, n_across, 4)`` and centre x/y in the grid CRS, the
    corner lon/lat, centre lon/lat and the across-track offset of each pixel column (m)."""
    to_lonlat, lon0, lat0 = _local_frame(grid)
    x0, y0, x1, y1 = grid.bounds
    lon_b, lat_b = grid.unproject(
        np.array([x0 - margin_m, x1 + margin_m, x1 + margin_m, x0 - margin_m]),
        np.array([y0 - margin_m, y0 - margin_m, y1 + margin_m, y1 + margin_m]),
    )
    ex, ey = to_lonlat.transform(lon_b, lat_b, direction="INVERSE")
    h = np.radians(heading_deg)
    along_u = np.array([np.sin(h), np.cos(h)])
    across_u = np.array([np.cos(h), -np.sin(h)])
    a = ex * along_u[0] + ey * along_u[1]
    c = ex * across_u[0] + ey * across_u[1]
    c_lo, c_hi = c.min(), c.max()
    if swath_half_width_m is not None:
        centre = rng.uniform(c_lo + 0.25 * (c_hi - c_lo), c_hi - 0.25 * (c_hi - c_lo))
        c_lo = max(c_lo, centre - swath_half_width_m)
        c_hi = min(c_hi, centre + swath_half_width_m)
    shift_c, shift_a = rng.uniform(0, across_m), rng.uniform(0, along_m)
    ce = np.arange(c_lo - shift_c, c_hi + across_m, across_m)
    ae = np.arange(a.min() - shift_a, a.max() + along_m, along_m)
    C0, A0 = np.meshgrid(ce[:-1], ae[:-1])
    C1, A1 = C0 + across_m, A0 + along_m
    cc = np.stack([C0, C1, C1, C0], axis=-1)
    aa = np.stack([A0, A0, A1, A1], axis=-1)
    lx = cc * across_u[0] + aa * along_u[0]
    ly = cc * across_u[1] + aa * along_u[1]
    corner_lon, corner_lat = to_lonlat.transform(lx, ly)
    cen_lon, cen_lat = to_lonlat.transform(lx.mean(axis=-1), ly.mean(axis=-1))
    return (
        np.asarray(corner_lon),
        np.asarray(corner_lat),
        np.asarray(cen_lon),
        np.asarray(cen_lat),
        (C0 + across_m / 2)[0],
        lon0,
        lat0,
    )


def _overpass_utc(date: pd.Timestamp, local_solar_hour: float, lon: float) -> pd.Timestamp:
    return pd.Timestamp(date.normalize()) + pd.Timedelta(hours=local_solar_hour - lon / 15.0)


def _solar_zenith(date: pd.Timestamp, lat: np.ndarray, local_solar_hour: float) -> np.ndarray:
    decl = np.radians(23.44) * np.sin(2 * np.pi * (date.day_of_year - 81) / 365.0)
    hour_angle = np.radians(15.0 * (local_solar_hour - 12.0))
    phi = np.radians(lat)
    cos_z = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    return np.degrees(np.arccos(np.clip(cos_z, -1, 1)))


# --------------------------------------------------------------------------------------------
# the truth


def truth_fluxes(scenario, date: str | pd.Timestamp, seed: int = 20140) -> TruthFluxes:
    """The truth's fluxes at midday for ``scenario`` (see the module docstring).

    Parameters
    ----------
    scenario : gridcarbon.contracts.Scenario
        Its ``grid``, ``inventory`` (prior annual emissions) and ``landcover``.
    date : date
        The day (sets the season of the ecosystem exchange).
    seed : int
        Seed of the perturbation field.

    Returns
    -------
    TruthFluxes
        kg s-1 per cell.
    """
    grid = scenario.grid
    inv = scenario.inventory
    rng = np.random.default_rng(seed)
    xx, yy = np.meshgrid(grid.x, grid.y)
    perturbation = np.exp(0.3 * _gaussian_field(xx, yy, 30_000.0, rng) - 0.5 * 0.3**2)

    def annual(species: str) -> np.ndarray:
        total = inv.area_maps(species).sum(axis=0)
        pts = inv.points
        if len(pts):
            np.add.at(total, (pts["row"].to_numpy(int), pts["col"].to_numpy(int)), pts[species])
        return total

    midday = 1.15 / _SECONDS_PER_YEAR
    season = 0.15 + 0.85 * _summer(pd.Timestamp(date))
    lc = scenario.landcover
    nee_umol = 1.5 - (10.0 * lc["forest"] + 7.0 * lc["cropland"]) * season
    land = lc["forest"] + lc["cropland"] + lc.get("urban", 0.0) + lc.get("other", 0.0)
    nee_kg_s = nee_umol * np.clip(land, 0, 1) * 1e-6 * CO2.molar_mass_g_mol * 1e-3 * grid.cell_area
    return TruthFluxes(
        grid=grid,
        co2=annual(CO2.name) * perturbation * midday + nee_kg_s,
        nox=annual(NOX.name) * perturbation * midday,
    )


def fluxes_from_emissions(
    grid: GridSpec, co2_kg_h: np.ndarray, nox_kg_h: np.ndarray
) -> TruthFluxes:
    """The truth's fluxes from emissions held by a caller (e.g. an OSSE replicate's truth at
    the overpass hour, area and point sources summed per cell).

    Parameters
    ----------
    grid : GridSpec
    co2_kg_h, nox_kg_h : ndarray
        Emissions per cell, kg h-1, ``(ny, nx)`` or flat in C order (NOx as NO2 mass).

    Returns
    -------
    TruthFluxes
        kg s-1 per cell.
    """
    shape = (grid.ny, grid.nx)
    co2 = np.asarray(co2_kg_h, float)
    nox = np.asarray(nox_kg_h, float)
    if co2.size != grid.ny * grid.nx or nox.size != grid.ny * grid.nx:
        raise InputDataError(
            f"emissions of {co2.size} and {nox.size} cells for a grid of {grid.ny} x {grid.nx}: "
            "pass one value per cell of the grid"
        )
    return TruthFluxes(grid=grid, co2=co2.reshape(shape) / 3600.0, nox=nox.reshape(shape) / 3600.0)


def tropomi_overpass_time(grid: GridSpec, date: str | pd.Timestamp) -> pd.Timestamp:
    """UTC time of the simulated TROPOMI overpass of ``date``: 13:30 local solar time at the
    grid's centre (the time :func:`write_synthetic_tropomi_no2` uses)."""
    _, lon0, _ = _local_frame(grid)
    return _overpass_utc(pd.Timestamp(date), 13.5, lon0)


def imager_overpass_time(grid: GridSpec, date: str | pd.Timestamp) -> pd.Timestamp:
    """UTC time of the simulated CO2M-like imager overpass of ``date``: 11:30 local solar time
    at the grid's centre (the time :func:`write_synthetic_oco_lite` uses)."""
    _, lon0, _ = _local_frame(grid)
    return _overpass_utc(pd.Timestamp(date), 11.5, lon0)


def _overpass_met(met, grid: GridSpec, when: pd.Timestamp) -> tuple[float, float, float, float]:
    """Domain-mean wind (u, v, m s-1, ×1.4 to the mixed layer), mixing height (m) and the
    met's cloud cover at the overpass hour."""
    lon, lat = grid.lonlat()
    box = dict(
        lon=slice(float(lon.min()) - 0.25, float(lon.max()) + 0.25),
        lat=slice(float(lat.min()) - 0.25, float(lat.max()) + 0.25),
    )
    hour = met.sel(time=when.floor("h"), method="nearest").sel(**box)
    u = 1.4 * float(hour["u10"].mean())
    v = 1.4 * float(hour["v10"].mean())
    speed = np.hypot(u, v)
    if speed < 1.5:
        u, v = (1.5, 0.0) if speed == 0 else (u * 1.5 / speed, v * 1.5 / speed)
    return u, v, float(hour["blh"].mean()), float(hour["tcc"].mean())


def _column_field(
    flux_mol_s: np.ndarray,
    grid: GridSpec,
    u: float,
    v: float,
    lifetime_s: float | None,
    spread: LateralSpread | None = None,
) -> np.ndarray:
    """The truth's vertical column (mol m-2) on the grid: each cell's flux carried along the
    wind as a column plume, by convolution with a 3 × 3 sub-sampled kernel (with ``spread``,
    one convolution each for the rural and the urban cells' flux)."""
    if spread is not None:
        urban = np.asarray(spread.urban_cells, bool).reshape(flux_mol_s.shape)
        return _column_field_with(
            np.where(urban, 0.0, flux_mol_s), grid, u, v, lifetime_s, spread.rural
        ) + _column_field_with(
            np.where(urban, flux_mol_s, 0.0), grid, u, v, lifetime_s, spread.urban
        )
    return _column_field_with(flux_mol_s, grid, u, v, lifetime_s, _linear_spread)


def _column_field_with(
    flux_mol_s: np.ndarray,
    grid: GridSpec,
    u: float,
    v: float,
    lifetime_s: float | None,
    sigma_y: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    cell = grid.cell_size
    radius = int(np.ceil(300_000.0 / cell))
    speed = np.hypot(u, v)
    du, dv = u / speed, v / speed
    sub = (np.arange(3) - 1) / 3.0
    off = np.arange(-radius, radius + 1)
    kernel = np.zeros((off.size, off.size))
    for sr in sub:
        for sc in sub:
            dx = (off[None, :] + sc) * cell
            dy = -(off[:, None] + sr) * cell
            along = dx * du + dy * dv
            cross = -dx * dv + dy * du
            sigma = np.ones_like(along)
            sigma[along > 0] = sigma_y(along[along > 0])
            decay = (
                1.0 if lifetime_s is None else np.exp(-np.maximum(along, 0) / (speed * lifetime_s))
            )
            k = decay / speed * np.exp(-0.5 * (cross / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma)
            kernel += np.where(along > 0, k, 0.0) / 9.0
    return signal.fftconvolve(flux_mol_s, kernel, mode="same")


def _sample(field: np.ndarray, grid: GridSpec, lon_c: np.ndarray, lat_c: np.ndarray) -> np.ndarray:
    """Pixel means of a grid field at 3 × 3 points spread over each pixel (corners ``(..., 4)``);
    points beyond the grid take the nearest edge value."""
    w = (np.arange(3) + 0.5) / 3.0
    total = np.zeros(lon_c.shape[:-1])
    for s in w:
        for t in w:
            # bilinear position inside the quadrilateral of corners 0-1-2-3
            lon = (1 - s) * (1 - t) * lon_c[..., 0] + s * (1 - t) * lon_c[..., 1]
            lon += s * t * lon_c[..., 2] + (1 - s) * t * lon_c[..., 3]
            lat = (1 - s) * (1 - t) * lat_c[..., 0] + s * (1 - t) * lat_c[..., 1]
            lat += s * t * lat_c[..., 2] + (1 - s) * t * lat_c[..., 3]
            x, y = grid.project(lon, lat)
            col = (x - grid.x_min) / grid.cell_size - 0.5
            row = (grid.y_max - y) / grid.cell_size - 0.5
            total += ndimage.map_coordinates(field, [row, col], order=1, mode="nearest")
    return total / 9.0


def _profile_fraction(z_bottom: np.ndarray, z_top: np.ndarray, zi: float) -> np.ndarray:
    """Fraction of the truth's plume mass between two heights (m): uniform to 0.8·z_i, then a
    linear taper to 0 at 1.2·z_i."""
    a, b = 0.8 * zi, 1.2 * zi

    def cum(z):
        z = np.clip(z, 0, b)
        taper = a + (b - a) / 2 * (1 - ((b - z) / (b - a)) ** 2)
        return np.where(z <= a, z, taper)

    return (cum(z_top) - cum(z_bottom)) / cum(np.float64(b))


def _heights(p: np.ndarray, ps: np.ndarray) -> np.ndarray:
    return -_SCALE_HEIGHT_M * np.log(np.clip(p, 1e-3, None) / ps)


def _cloud_fraction(
    month: int, met_cloud: float, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    mu = YRD_MONTHLY_CLOUD[month - 1] + (met_cloud - 0.5)
    return np.clip(mu + 0.5 * _gaussian_field(x, y, 30_000.0, rng), 0.0, 1.0)


def _local_xy(grid: GridSpec, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = grid.project(lon, lat)
    return np.asarray(x), np.asarray(y)


# --------------------------------------------------------------------------------------------
# TROPOMI


def write_synthetic_tropomi_no2(
    path: str | Path,
    *,
    grid: GridSpec,
    fluxes: TruthFluxes,
    met,
    date: str | pd.Timestamp,
    seed: int = 20141,
    margin_m: float = 20_000.0,
    amf_error_sigma: float = 0.15,
    lifetime_factor: float = 1.0,
    noise_scale: float = 1.0,
    free_troposphere_no2_mol_m2: float = TM5_LIKE_FREE_TROPOSPHERE_MOL_M2,
    lateral_spread: LateralSpread | None = None,
    overwrite: bool = False,
) -> Path:
    """Write one simulated TROPOMI NO2 overpass over ``grid`` in the S5P L2 NO2 layout.

    Parameters
    ----------
    path : path
        The ``.nc`` file to write (atomically).
    grid : GridSpec
        The area covered (its bounds plus ``margin_m``).
    fluxes : TruthFluxes
        The truth's fluxes (kg s-1 per cell), on ``grid``.
    met : xarray.Dataset
        ERA5-like hourly met (``u10``, ``v10``, ``blh``, ``tcc`` on ``time, lat, lon``) covering
        the overpass hour, e.g. ``scenario.meteorology.for_hours(...)``.
    date : date
        The day; the overpass is at 13:30 local solar time at the grid centre.
    seed : int
        Seed of this day's draws (combined with the date).
    margin_m : float
        Pixels extend this far beyond the grid (so that the readers' grid filter has work).
    amf_error_sigma : float
        Relative 1-σ of the spatially correlated air-mass-factor error.
    lifetime_factor : float
        The truth's NOx lifetime (3 h) is multiplied by this (an OSSE replicate's lifetime
        error).
    noise_scale : float
        The drawn slant-column noise is multiplied by this (0: no noise; the stored precision
        is unchanged).
    free_troposphere_no2_mol_m2 : float
        The truth's NO2 column of the free troposphere (above 2 km, below the tropopause),
        spread in proportion to pressure, mol m-2 (≥ 0; 0: none); the a priori keeps
        :data:`TM5_LIKE_FREE_TROPOSPHERE_MOL_M2`.
    lateral_spread : LateralSpread, optional
        A DIAGNOSTIC lateral plume spread in place of the truth's own linear one.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
    """
    if not free_troposphere_no2_mol_m2 >= 0:
        raise ConfigError(
            f"free_troposphere_no2_mol_m2 = {free_troposphere_no2_mol_m2!r} must be >= 0"
        )
    if not lifetime_factor > 0 or not noise_scale >= 0:
        raise ConfigError(
            f"lifetime_factor = {lifetime_factor!r} must be > 0 and noise_scale = "
            f"{noise_scale!r} >= 0"
        )
    date = pd.Timestamp(date)
    rng = np.random.default_rng([seed, date.year, date.day_of_year])
    lon_c, lat_c, lon, lat, across, lon0, lat0 = _swath_pixels(
        grid, rng, 3500.0, 5500.0, heading_deg=-14.0, margin_m=margin_m
    )
    n_scan, n_ground = lon.shape
    when = _overpass_utc(date, 13.5, lon0)
    u, v, zi, met_cloud = _overpass_met(met, grid, when)
    ratio = 0.75 * rng.uniform(0.8, 1.2)
    nox_mol_s = fluxes.nox / (NOX.molar_mass_g_mol * 1e-3)
    lifetime_s = 3 * 3600.0 * lifetime_factor
    plume = ratio * _sample(
        _column_field(nox_mol_s, grid, u, v, lifetime_s, lateral_spread), grid, lon_c, lat_c
    )
    x, y = _local_xy(grid, lon, lat)

    # vertical grid
    ps = 101000.0 + 300.0 * _gaussian_field(x, y, 200_000.0, rng)
    p_int = TM5_LIKE_A_PA[None, None] + TM5_LIKE_B[None, None] * ps[..., None, None]
    z_bot, z_top = _heights(p_int[..., 0], ps[..., None]), _heights(p_int[..., 1], ps[..., None])
    p_mid = p_int.mean(axis=-1)
    p_tropopause = 11000.0 + 9000.0 * (1 - _summer(date))
    trop_index = (p_int[..., 1] >= p_tropopause).sum(axis=-1) - 1
    layer = np.arange(TM5_LIKE_A_PA.shape[0])
    trop = layer <= trop_index[..., None]
    strat = ~trop

    # partial columns, mol m-2: truth and TM5-like a priori
    free = (z_bot >= 2000.0) & trop
    dp = p_int[..., 0] - p_int[..., 1]
    free_share = np.where(free, dp, 0) / np.where(free, dp, 0).sum(axis=-1, keepdims=True)
    strat_share = np.where(strat, dp, 0) / np.where(strat, dp, 0).sum(axis=-1, keepdims=True)
    stratosphere = 5e-5 * strat_share
    x_true = (
        free_troposphere_no2_mol_m2 * free_share
        + stratosphere
        + plume[..., None] * _profile_fraction(z_bot, z_top, zi)
    )
    coarse = _one_degree_mean(plume, lon, lat)
    expo = np.exp(-z_bot / 1000.0) - np.exp(-z_top / 1000.0)
    # the TM5-like a priori keeps its own free troposphere, whatever the truth's
    x_apriori = (
        TM5_LIKE_FREE_TROPOSPHERE_MOL_M2 * free_share
        + stratosphere
        + coarse[..., None] * np.where(trop, expo, 0.0)
    )

    # air-mass factors
    sza = _solar_zenith(date, lat, 13.5)
    swath_centre = rng.uniform(-1_000_000.0, 1_000_000.0)
    vza = np.degrees(np.arctan(np.abs(across - swath_centre) / 824_000.0) * 1.1)
    vza = np.broadcast_to(vza[None, :], lon.shape)
    m_geo = 1 / np.cos(np.radians(sza)) + 1 / np.cos(np.radians(vza))
    sens = 0.35 + 0.65 * np.clip((ps[..., None] - p_mid) / (ps[..., None] - 50000.0), 0, 1) ** 0.6
    m_true = m_geo[..., None] * sens
    eps = amf_error_sigma * _gaussian_field(x, y, 100_000.0, rng)
    m_ret = m_true * (1 + eps[..., None])
    amf_trop = (m_ret * x_apriori * trop).sum(-1) / (x_apriori * trop).sum(-1)
    amf_total = (m_ret * x_apriori).sum(-1) / x_apriori.sum(-1)
    slant = (m_true * x_true * trop).sum(-1)
    noise = noise_scale * rng.normal(0.0, SLANT_COLUMN_NOISE_MOL_M2, lon.shape)
    column = (slant + noise) / amf_trop
    precision = SLANT_COLUMN_NOISE_MOL_M2 / amf_trop

    cloud = _cloud_fraction(date.month, met_cloud, x, y, rng)
    crf = 3 * cloud / (3 * cloud + 1 - cloud)
    qa = np.where(crf < 0.5, 1.0, 0.74)
    times = np.array(when, dtype="datetime64[ms]") + (
        (np.arange(n_scan) - n_scan // 2) * 840
    ).astype("timedelta64[ms]")
    granule = TropomiNo2Granule(
        time_utc=times,
        latitude=lat,
        longitude=lon,
        latitude_bounds=lat_c,
        longitude_bounds=lon_c,
        tropospheric_column=column,
        tropospheric_column_precision=precision,
        qa_value=qa,
        averaging_kernel=m_ret / amf_total[..., None],
        amf_troposphere=amf_trop,
        amf_total=amf_total,
        tropopause_layer_index=trop_index,
        tm5_constant_a=TM5_LIKE_A_PA,
        tm5_constant_b=TM5_LIKE_B,
        surface_pressure=ps,
        cloud_radiance_fraction=crf,
        cloud_fraction=cloud,
        surface_altitude=-_SCALE_HEIGHT_M * np.log(ps / 101325.0),
        solar_zenith_angle=sza,
        viewing_zenith_angle=vza,
        attributes={
            **_TROPOMI_ATTRS,
            "time_coverage_start": f"{np.datetime_as_string(times[0], unit='s')}Z",
            "truth_no2_nox_ratio": f"{ratio:.4f}",
            "truth_wind_u_v_m_s": f"{u:.3f} {v:.3f}",
            "truth_mixing_height_m": f"{zi:.1f}",
            "truth_nox_lifetime_h": f"{lifetime_s / 3600.0:.4f}",
            **_spread_attribute(lateral_spread),
            "amf_error_sigma": f"{amf_error_sigma:g}",
            "noise_scale": f"{noise_scale:g}",
            "seed": str(seed),
        },
    )
    return write_tropomi_no2_l2(path, granule, overwrite=overwrite)


def _spread_attribute(spread: LateralSpread | None) -> dict[str, str]:
    """The file's record of its lateral plume spread: only written when a diagnostic replaced
    the truth's own (files made without one keep their attributes as before)."""
    return {} if spread is None else {"truth_lateral_spread": f"DIAGNOSTIC: {spread.description}"}


def _one_degree_mean(values: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Each pixel's value replaced by the mean over its 1° × 1° box (a TM5-like a priori)."""
    key = pd.Series(values.ravel()).groupby(
        [np.floor(lon.ravel()).astype(int), np.floor(lat.ravel()).astype(int)]
    )
    return key.transform("mean").to_numpy().reshape(values.shape)


# --------------------------------------------------------------------------------------------
# CO2M-like imager in the OCO Lite layout


def write_synthetic_oco_lite(
    path: str | Path,
    *,
    grid: GridSpec,
    fluxes: TruthFluxes,
    met,
    date: str | pd.Timestamp,
    seed: int = 20142,
    margin_m: float = 20_000.0,
    swath_width_m: float = 250_000.0,
    precision_ppm: float = 0.7,
    lateral_spread: LateralSpread | None = None,
    overwrite: bool = False,
) -> Path:
    """Write one simulated CO2M-like XCO2 imager overpass in the OCO Lite layout.

    Parameters
    ----------
    path : path
        The ``.nc4`` file to write (atomically).
    grid, fluxes, met, seed, margin_m, lateral_spread, overwrite
        As in :func:`write_synthetic_tropomi_no2`.
    date : date
        The day; the overpass is at 11:30 local solar time at the grid centre.
    swath_width_m : float
        Swath width; the swath's position across the grid is drawn per day.
    precision_ppm : float
        1-σ single-sounding precision.

    Returns
    -------
    Path
    """
    date = pd.Timestamp(date)
    rng = np.random.default_rng([seed, date.year, date.day_of_year])
    lon_c, lat_c, lon, lat, _, lon0, _ = _swath_pixels(
        grid, rng, 2000.0, 2000.0, 192.0, margin_m, swath_half_width_m=swath_width_m / 2
    )
    n_rows, n_cols = lon.shape
    lon_c, lat_c = lon_c.reshape(-1, 4), lat_c.reshape(-1, 4)
    lon, lat = lon.ravel(), lat.ravel()
    n = lon.size
    when = _overpass_utc(date, 11.5, lon0)
    u, v, zi, met_cloud = _overpass_met(met, grid, when)
    co2_mol_s = fluxes.co2 / (CO2.molar_mass_g_mol * 1e-3)
    column = _sample(
        _column_field(co2_mol_s, grid, u, v, None, lateral_spread), grid, lon_c[None], lat_c[None]
    )[0]
    x, y = _local_xy(grid, lon, lat)

    psurf_pa = 101000.0 + 300.0 * _gaussian_field(x, y, 200_000.0, rng)
    sigma = np.arange(20) / 19.0
    levels_pa = psurf_pa[:, None] * sigma[None, :]
    weight = np.full(20, 1.0 / 19.0)
    weight[[0, -1]] = 0.5 / 19.0
    kernel = 1.05 - 0.35 * (1 - sigma) ** 2
    # the plume's kernel-weighted mixing ratio: ∫ a(z) s(z) dz / ∫ s(z) dz × ΔV / V_dry
    z = np.linspace(0, 1.2 * zi, 121)
    share = _profile_fraction(z[:-1], z[1:], zi)
    a_z = np.interp(np.exp(-0.5 * (z[:-1] + z[1:]) / _SCALE_HEIGHT_M), sigma, kernel)
    kernel_on_plume = float((a_z * share).sum())
    v_dry = psurf_pa / (_G * _M_DRY_AIR)
    delta_ppm = 1e6 * column / v_dry * kernel_on_plume

    doy = date.day_of_year
    background = 415.0 + 3.0 * np.cos(2 * np.pi * (doy - 120) / 365.25)
    apriori = background - 0.8
    direction = rng.uniform(0, 2 * np.pi)
    xc, yc = x.mean(), y.mean()
    along_bias = (x - xc) * np.cos(direction) + (y - yc) * np.sin(direction)
    bias = 0.5 + 0.5 * along_bias / 100_000.0
    xco2 = (
        apriori
        + (background - apriori) * float((weight * kernel).sum())
        + delta_ppm
        + bias
        + rng.normal(0.0, precision_ppm, n)
    )
    cloud = _cloud_fraction(date.month, met_cloud, x, y, rng)
    # one image line per 2 km along track at ~7 km s-1 ground speed
    line_ms = np.repeat((np.arange(n_rows) - n_rows // 2) * 286, n_cols)
    times = np.array(when, dtype="datetime64[ms]") + line_ms.astype("timedelta64[ms]")
    granule = OcoLiteGranule(
        time=times,
        latitude=lat,
        longitude=lon,
        vertex_latitude=lat_c,
        vertex_longitude=lon_c,
        xco2=xco2,
        xco2_uncertainty=np.full(n, precision_ppm),
        xco2_apriori=np.full(n, apriori),
        xco2_quality_flag=(cloud >= 0.01).astype(np.int8),
        xco2_averaging_kernel=np.broadcast_to(kernel, (n, 20)),
        pressure_weight=np.broadcast_to(weight, (n, 20)),
        pressure_levels=levels_pa / 100.0,
        co2_profile_apriori=np.full((n, 20), apriori),
        psurf=psurf_pa / 100.0,
        operation_mode=np.zeros(n, np.int8),
        cloud_fraction=cloud,
        attributes={
            **_IMAGER_ATTRS,
            "truth_xco2_background_ppm": f"{background:.3f}",
            "truth_bias_ppm": "0.5 + 0.5 per 100 km",
            "truth_bias_direction_deg": f"{np.degrees(direction):.1f}",
            "truth_wind_u_v_m_s": f"{u:.3f} {v:.3f}",
            **_spread_attribute(lateral_spread),
            "seed": str(seed),
        },
    )
    return write_oco_lite(path, granule, overwrite=overwrite)


def tropomi_file_name(day: pd.Timestamp) -> str:
    """The S5P-style name of the synthetic NO2 file of ``day`` (file class ``SYNT``, orbit 0)."""
    d = f"{pd.Timestamp(day):%Y%m%d}"
    return f"S5P_SYNT_L2__NO2____{d}T000000_{d}T235959_00000_01_020400_{d}T000000.nc"


def write_synthetic_satellite_files(
    out_dir: str | Path,
    scenario,
    dates: Sequence[str | pd.Timestamp],
    *,
    imager_every_days: int = 3,
    seed: int = 20140,
    overwrite: bool = False,
) -> list[Path]:
    """Simulated TROPOMI NO2 files every day and CO2M-like imager files every
    ``imager_every_days`` for ``scenario`` (its grid, inventory, landcover and meteorology).

    Files are named like the real products so that tools parsing the names accept them:
    ``S5P_SYNT_L2__NO2____<day>T000000_<day>T235959_00000_01_020400_<day>T000000.nc`` (file class
    ``SYNT``, which no real S5P file has; orbit 00000) and ``co2m_like_LtCO2_<YYMMDD>.nc4``.

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out_dir)
    written = []
    days = pd.DatetimeIndex(pd.to_datetime(list(dates))).normalize()
    for i, day in enumerate(days):
        fluxes = truth_fluxes(scenario, day, seed)
        met = scenario.meteorology.for_hours(pd.date_range(day, periods=24, freq="h"))
        written.append(
            write_synthetic_tropomi_no2(
                out / tropomi_file_name(day),
                grid=scenario.grid,
                fluxes=fluxes,
                met=met,
                date=day,
                seed=seed + 1,
                overwrite=overwrite,
            )
        )
        if i % imager_every_days == 0:
            written.append(
                write_synthetic_oco_lite(
                    out / f"co2m_like_LtCO2_{day:%y%m%d}.nc4",
                    grid=scenario.grid,
                    fluxes=fluxes,
                    met=met,
                    date=day,
                    seed=seed + 2,
                    overwrite=overwrite,
                )
            )
    return written
