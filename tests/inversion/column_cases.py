"""SYNTHETIC column pixels for the column operator's tests: a tilted swath of quadrilateral
pixels over a grid, with a uniform or a TROPOMI-like averaging kernel."""

from __future__ import annotations

import numpy as np

from gridcarbon.inversion.columns import ColumnObservations, ColumnPixels
from gridcarbon.species import DEFAULT_SPECIES, by_name

#: Layer edges as fractions of the surface pressure (a TM5-like spacing, finer near the ground).
SIGMA_EDGES = np.array(
    [1.0, 0.99, 0.975, 0.955, 0.93, 0.90, 0.86, 0.81, 0.75, 0.68, 0.60, 0.50, 0.40, 0.30, 0.20]
    + [0.12, 0.06, 0.0]
)
#: The tropopause of the TROPOMI-like kernel, as a fraction of the surface pressure.
TROPOPAUSE = 0.15


def tropomi_like_kernel(sigma_edges: np.ndarray = SIGMA_EDGES) -> np.ndarray:
    """A tropospheric NO2 kernel shaped like TROPOMI's: 0.4 in the lowest layer rising linearly
    in pressure to 1.2 at 0.6 p_s and staying there, 0 above the tropopause."""
    mid = 0.5 * (sigma_edges[:-1] + sigma_edges[1:])
    a = 0.4 + 0.8 * np.clip((1.0 - mid) / 0.4, 0.0, 1.0)
    return np.where(mid > TROPOPAUSE, a, 0.0)


def swath_pixels(
    grid,
    times,
    *,
    pixel_m=(3500.0, 5500.0),
    angle_deg: float = 12.0,
    margin_m: float = 3000.0,
    kernel: str = "uniform",
    precision: float = 1e-5,
    surface_pressure: float = 100_500.0,
    water_vapour: float | None = None,
) -> ColumnPixels:
    """Parallelogram pixels tiling the grid (less ``margin_m``) on a lattice turned by
    ``angle_deg``, one overpass per time of ``times`` (UTC); values 0 (set them with
    :func:`with_values`)."""
    x0, y0, x1, y1 = grid.bounds
    a = np.radians(angle_deg)
    ux = np.array([np.cos(a), np.sin(a)]) * pixel_m[0]
    uy = np.array([-np.sin(a), np.cos(a)]) * pixel_m[1]
    cx0, cy0 = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    n = int(np.hypot(x1 - x0, y1 - y0) / min(pixel_m)) + 2
    i, j = np.meshgrid(np.arange(-n, n), np.arange(-n, n))
    ox = cx0 + i.ravel() * ux[0] + j.ravel() * uy[0]
    oy = cy0 + i.ravel() * ux[1] + j.ravel() * uy[1]
    corner_x = np.stack([ox, ox + ux[0], ox + ux[0] + uy[0], ox + uy[0]], axis=1)
    corner_y = np.stack([oy, oy + ux[1], oy + ux[1] + uy[1], oy + uy[1]], axis=1)
    inside = (
        (corner_x.min(1) >= x0 + margin_m)
        & (corner_x.max(1) <= x1 - margin_m)
        & (corner_y.min(1) >= y0 + margin_m)
        & (corner_y.max(1) <= y1 - margin_m)
    )
    corner_x, corner_y = corner_x[inside], corner_y[inside]
    npix = corner_x.shape[0]
    times = np.asarray(times, "datetime64[ns]")
    nov = times.size
    edges = np.tile(SIGMA_EDGES * surface_pressure, (npix * nov, 1))
    ak = tropomi_like_kernel() if kernel == "tropomi" else np.ones(SIGMA_EDGES.size - 1)
    return ColumnPixels(
        corner_x=np.tile(corner_x, (nov, 1)),
        corner_y=np.tile(corner_y, (nov, 1)),
        time=np.repeat(times, npix),
        value=np.zeros(npix * nov),
        precision=np.full(npix * nov, precision),
        averaging_kernel=np.tile(ak, (npix * nov, 1)),
        pressure_edges=edges,
        surface_pressure=np.full(npix * nov, surface_pressure),
        overpass=np.repeat(np.arange(nov), npix).astype(str),
        water_vapour_column=None if water_vapour is None else np.full(npix * nov, water_vapour),
        source="synthetic test swath",
    )


def with_values(pixels: ColumnPixels, value: np.ndarray) -> ColumnPixels:
    """``pixels`` with other values."""
    from dataclasses import replace

    return replace(pixels, value=np.asarray(value, float))


def noon_no2_columns(case, system, settings, meteorology=None):
    """NO2 columns (a :class:`~gridcarbon.inversion.columns.ColumnObservations`) at 13:30
    Beijing time of each day of ``system`` (05:30 UTC), TROPOMI-like kernel, with ``settings``
    and the case's meteorology or ``meteorology``."""
    times = [t + np.timedelta64(30, "m") for t in system.times if t.hour == 5]
    pixels = swath_pixels(system.grid, times, kernel="tropomi")
    met = case.scenario.meteorology if meteorology is None else meteorology
    return ColumnObservations(
        pixels, by_name(DEFAULT_SPECIES, "NOx"), "vertical_column", met, settings
    )
