"""Satellite Level-2 column products: readers for the real file layouts, and writers of the same
layouts for simulated retrievals.

Two products:

* **TROPOMI/Sentinel-5P L2 nitrogen-dioxide product** (:func:`read_tropomi_no2`): NetCDF-4 with groups, as described
  in the product user manual (PUM, S5P-KNMI-L2-0021-MA) and van Geffen et al. (2022, AMT 15,
  2037).  Read: ``PRODUCT/nitrogendioxide_tropospheric_column`` and ``..._precision``,
  ``PRODUCT/qa_value`` (ubyte, ``scale_factor`` 0.01), ``PRODUCT/time_utc`` (one ISO string per
  scanline), ``PRODUCT/averaging_kernel`` (per TM5 layer, for the total column),
  ``PRODUCT/air_mass_factor_troposphere`` / ``air_mass_factor_total``,
  ``PRODUCT/tm5_tropopause_layer_index`` (0-based index of the highest tropospheric layer),
  ``PRODUCT/tm5_constant_a`` (Pa) / ``tm5_constant_b`` (1) of shape ``(layer, vertices=2)``,
  ``PRODUCT/SUPPORT_DATA/GEOLOCATIONS/latitude_bounds`` / ``longitude_bounds`` (4 corners) and
  ``PRODUCT/SUPPORT_DATA/INPUT_DATA/surface_pressure``.  Processor versions below 2.2 are refused
  (their tropospheric columns are biased low over polluted areas; van Geffen et al. 2022).
* **OCO-2 / OCO-3 Lite XCO2** (:func:`read_oco_lite`): ``xco2``, ``xco2_uncertainty``,
  ``xco2_quality_flag``, ``vertex_latitude`` / ``vertex_longitude``, ``xco2_averaging_kernel``,
  ``pressure_levels``, ``pressure_weight``, ``co2_profile_apriori``, ``xco2_apriori``, ``time``,
  ``Retrieval/psurf`` and ``Sounding/operation_mode`` (4 = OCO-3 snapshot-area mode).

Both return a :class:`SatelliteColumns`: the usable pixels (documented quality rule passed, pixel
wholly inside the grid and far enough from its edge) in canonical units (mol m-2 for nitrogen-dioxide
columns, ppm for XCO2), with footprints in the grid's CRS, kernels and pressures.

:func:`write_tropomi_no2_l2` and :func:`write_oco_lite` write the same layouts from a
:class:`TropomiNo2Granule` / :class:`OcoLiteGranule`; :mod:`gridcarbon.scenario.satellite_synthetic`
uses them for the synthetic retrievals of the default scenario.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gridcarbon.errors import InputDataError, InputFileError
from gridcarbon.io.netcdf_lock import NETCDF_LOCK
from gridcarbon.io.runfolder import atomic_path
from gridcarbon.species import CO2, NOX

if TYPE_CHECKING:
    import geopandas as gpd
    import netCDF4
    import pint

    from gridcarbon.grids.gridspec import GridSpec

__all__ = [
    "SatelliteColumns",
    "TropomiNo2Granule",
    "OcoLiteGranule",
    "read_tropomi_no2",
    "read_oco_lite",
    "read_global_attributes",
    "write_tropomi_no2_l2",
    "write_oco_lite",
    "MIN_TROPOMI_PROCESSOR_VERSION",
    "OCO_SNAPSHOT_AREA_MODE",
]

logger = logging.getLogger("gridcarbon")

#: The oldest TROPOMI NO2 processor accepted (van Geffen et al. 2022: v1.x columns are biased
#: low by up to ~40 % over polluted regions; v2.2 onwards are reprocessed consistently).
MIN_TROPOMI_PROCESSOR_VERSION: tuple[int, int] = (2, 2)

#: ``Sounding/operation_mode`` of OCO-3's snapshot-area mode (0 nadir, 1 glint, 2 target,
#: 3 transition, 4 snapshot area).
OCO_SNAPSHOT_AREA_MODE = 4

#: TROPOMI tropospheric NO2 columns are reported in mol m-2; no real column exceeds ~1e-3.
_NO2_COLUMN_LIMIT_MOL_M2 = 1e-2
#: Plausible XCO2, ppm (a median outside means wrong units or a wrong variable).
_XCO2_RANGE_PPM = (300.0, 600.0)

_NO2 = NOX.observed_as  # the retrieved molecule
_TROPOMI_PRODUCT = f"S5P_L2_{_NO2}"
_TROPOMI_NO2_VAR = "PRODUCT/nitrogendioxide_tropospheric_column"
_GEO = "PRODUCT/SUPPORT_DATA/GEOLOCATIONS"
_INPUT = "PRODUCT/SUPPORT_DATA/INPUT_DATA"
_DETAILED = "PRODUCT/SUPPORT_DATA/DETAILED_RESULTS"
_TROPOMI_VARIABLES = (
    _TROPOMI_NO2_VAR,
    _TROPOMI_NO2_VAR + "_precision",
    "PRODUCT/qa_value",
    "PRODUCT/time_utc",
    "PRODUCT/averaging_kernel",
    "PRODUCT/air_mass_factor_troposphere",
    "PRODUCT/air_mass_factor_total",
    "PRODUCT/tm5_tropopause_layer_index",
    "PRODUCT/tm5_constant_a",
    "PRODUCT/tm5_constant_b",
    f"{_GEO}/latitude_bounds",
    f"{_GEO}/longitude_bounds",
    f"{_INPUT}/surface_pressure",
)
_OCO_VARIABLES = (
    "xco2",
    "xco2_uncertainty",
    "xco2_quality_flag",
    "xco2_averaging_kernel",
    "xco2_apriori",
    "co2_profile_apriori",
    "pressure_levels",
    "pressure_weight",
    "vertex_latitude",
    "vertex_longitude",
    "time",
    "Retrieval/psurf",
    "Sounding/operation_mode",
)


@dataclass(frozen=True, eq=False)
class SatelliteColumns:
    """The usable pixels of one Level-2 file, in canonical units.

    Arrays are indexed by pixel (``n``) and, for the vertical, by layer or level (``L``).

    Parameters
    ----------
    product : str
        ``"S5P_L2_"`` + the retrieved molecule, or ``"OCO_LITE_XCO2"``.
    quantity : str
        ``"tropospheric_no2_column"`` or ``"xco2"``.
    unit : str
        Canonical unit of ``value`` and ``precision``: ``"mol m-2"`` or ``"ppm"``.
    time : ndarray of datetime64[ns], ``(n,)``
        Measurement time, UTC (naive stamps in UTC).
    value, precision : ndarray ``(n,)``
        The retrieved column and its 1-σ random uncertainty, in ``unit``.
    polygons : GeoSeries ``(n,)``
        Pixel footprints from the four corners, in the grid's CRS (metres); in lon/lat
        (EPSG:4326) when no grid was given.
    kernel : ndarray ``(n, L)``
        TROPOMI: the tropospheric averaging kernel per TM5 layer, A_trop = A·M/M_trop up to the
        tropopause layer and 0 above (a retrieved column = Σ_l kernel_l · x_l for partial columns
        x_l in mol m-2).  OCO: the column averaging kernel per level (``xco2_averaging_kernel``).
    kernel_on : str
        ``"layers"`` (TROPOMI) or ``"levels"`` (OCO).
    pressure_pa : ndarray
        ``"layers"``: ``(n, L, 2)`` the bottom and top pressures of each layer, Pa, from the TM5
        hybrid coefficients (p = a + b·p_s); ``"levels"``: ``(n, L)`` level pressures, Pa.
    surface_pressure_pa : ndarray ``(n,)``
        Surface pressure, Pa.
    pressure_weight : ndarray ``(n, L)`` or None
        OCO's pressure weighting function h (Σ h = 1); None for TROPOMI.
    apriori_profile : ndarray ``(n, L)`` or None
        OCO's a priori carbon-dioxide profile, ppm; None for TROPOMI.
    apriori_value : ndarray ``(n,)`` or None
        OCO's a priori XCO2, ppm (XCO2 = x_a + Σ h_k a_k (x_k − x_a,k)); None for TROPOMI.
    extra : mapping of str → ndarray ``(n,)``
        Product-specific per-pixel fields: TROPOMI ``amf_troposphere``, ``amf_total``,
        ``tropopause_layer_index``, ``qa_value``, ``scanline``, ``ground_pixel`` (and
        ``cloud_radiance_fraction`` when the file has it); OCO ``sounding_id``,
        ``operation_mode``, ``quality_flag``.
    metadata : mapping of str → str
        ``file``, ``product``, ``title``, ``processor_version``, ``synthetic`` (``"true"`` /
        ``"false"`` from the file's global attributes; absent → ``"false"``), ``simulation`` (what a
        synthetic file simulates), and the pixel counts ``n_pixels``, ``n_quality_rejected``,
        ``n_outside_grid``, ``n_used``.
    """

    product: str
    quantity: str
    unit: str
    time: np.ndarray
    value: np.ndarray
    precision: np.ndarray
    polygons: gpd.GeoSeries
    kernel: np.ndarray
    kernel_on: str
    pressure_pa: np.ndarray
    surface_pressure_pa: np.ndarray
    pressure_weight: np.ndarray | None = None
    apriori_profile: np.ndarray | None = None
    apriori_value: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.value.size)

    @property
    def synthetic(self) -> bool:
        """Whether the file says it holds simulated (synthetic) retrievals."""
        return self.metadata.get("synthetic", "false") == "true"


# --------------------------------------------------------------------------------------------
# units


@cache
def _registry() -> pint.UnitRegistry:
    import pint

    ureg = pint.UnitRegistry()
    ureg.define("ppb = 1e-9 = parts_per_billion")
    return ureg


def _pint_expression(unit: str) -> str:
    """``"mol m-2"`` → ``"mol * m**-2"``; ``"molecules cm-2"`` → ``"molecules * cm**-2"``."""
    text = unit.strip().replace("^", "**")
    text = re.sub(r"(?<=[A-Za-z])(-?\d+)", r"**\1", text)
    return re.sub(r"\s+", " * ", text)


def _unit_factor(unit: str | None, target: str, path: Path, variable: str) -> float:
    """Multiplier from ``unit`` (a file's ``units`` attribute) to ``target``, through pint."""
    import pint

    if unit is None or not str(unit).strip():
        raise InputDataError(
            f"{path}: variable {variable!r} has no 'units' attribute; cannot tell whether it is "
            f"in {target}. Fix: set its units attribute (e.g. {target!r})"
        )
    ureg = _registry()
    try:
        return float(ureg.Quantity(1.0, _pint_expression(str(unit))).to(target).magnitude)
    except (pint.errors.PintError, AttributeError, TypeError, ValueError, SyntaxError) as exc:
        raise InputDataError(
            f"{path}: variable {variable!r} has units {str(unit)!r}, which cannot be converted "
            f"to {target} ({exc.__class__.__name__}). Fix: give the units in {target} or a unit "
            "pint converts to it"
        ) from None


# --------------------------------------------------------------------------------------------
# file access


@contextlib.contextmanager
def _opened(path: str | Path) -> Iterator[tuple[Path, netCDF4.Dataset]]:
    """The product file open for reading, :data:`NETCDF_LOCK` held until it is closed."""
    import netCDF4

    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: no such file. Fix: give the path of a Level-2 NetCDF file")
    with NETCDF_LOCK:
        try:
            ds = netCDF4.Dataset(p, "r")
        except OSError as exc:
            raise InputFileError(
                f"{p}: not a NetCDF file ({exc}). Fix: give a Level-2 product file in NetCDF-4 "
                "(.nc / .nc4) as distributed by the data centre"
            ) from None
        with ds:
            ds.set_auto_mask(True)
            yield p, ds


def _has(ds: netCDF4.Dataset, name: str) -> bool:
    node: Any = ds
    parts = name.split("/")
    for group in parts[:-1]:
        if group not in node.groups:
            return False
        node = node.groups[group]
    return parts[-1] in node.variables


def _missing_error(path: Path, ds: netCDF4.Dataset, names: tuple[str, ...], product: str):
    """One error naming the first thing the file lacks (its outermost missing group, else the
    variable) and how many more required variables are missing; None when nothing is."""
    missing = [n for n in names if not _has(ds, n)]
    if not missing:
        return None
    first = missing[0]
    parts = first.split("/")
    node: Any = ds
    what = f"variable {first!r}"
    for depth, group in enumerate(parts[:-1]):
        if group not in node.groups:
            what = f"group {'/'.join(parts[: depth + 1])!r}"
            break
        node = node.groups[group]
    more = f" (and {len(missing) - 1} more: {missing[1:4]})" if len(missing) > 1 else ""
    return InputFileError(
        f"{path}: {product} file lacks {what}{more}. Fix: give the complete product file as "
        "distributed (not a subset written by another tool), or add the missing variable"
    )


def _values(ds: netCDF4.Dataset, name: str) -> np.ndarray:
    """A variable as a float array, fill values as NaN (scale_factor/add_offset applied)."""
    var = ds[name]
    data = var[...]
    if np.ma.isMaskedArray(data):
        return np.ma.filled(data.astype(np.float64), np.nan)
    return np.asarray(data, dtype=np.float64)


def _attr(ds: Any, name: str) -> str | None:
    return str(ds.getncattr(name)) if name in ds.ncattrs() else None


def _global_text(ds: netCDF4.Dataset) -> str:
    return " ".join(
        str(_attr(ds, a) or "") for a in ("title", "product_name", "id", "ShortName", "filename")
    )


def _metadata(path: Path, ds: netCDF4.Dataset, product: str) -> dict[str, str]:
    synthetic = (_attr(ds, "synthetic") or "false").strip().lower()
    return {
        "file": str(path),
        "product": product,
        "title": _attr(ds, "title") or "",
        "processor_version": _attr(ds, "processor_version") or "",
        "synthetic": "true" if synthetic in ("true", "1", "yes") else "false",
        "simulation": _attr(ds, "simulation") or "",
    }


def _version_tuple(text: str) -> tuple[int, ...] | None:
    m = re.match(r"\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
    return None if m is None else tuple(int(g) for g in m.groups() if g is not None)


# --------------------------------------------------------------------------------------------
# geometry


def _polygons(
    lon_corners: np.ndarray, lat_corners: np.ndarray, grid: GridSpec | None
) -> gpd.GeoSeries:
    """Pixel polygons from ``(n, 4)`` corner longitudes/latitudes, in the grid's CRS."""
    import geopandas as gpd
    import shapely

    if grid is None:
        x, y, crs = lon_corners, lat_corners, "EPSG:4326"
    else:
        x, y = grid.project(lon_corners, lat_corners)
        crs = grid.crs
    rings = np.stack([x, y], axis=-1)
    return gpd.GeoSeries(shapely.polygons(rings), crs=crs)


def _inside_grid(
    polygons: gpd.GeoSeries,
    grid: GridSpec,
    min_edge_distance_m: float,
    wind_from_deg: float | np.ndarray | None,
) -> np.ndarray:
    """Pixels wholly inside the grid and at least ``min_edge_distance_m`` from its edge.

    Without a wind direction the distance is kept from every edge (the pixel buffered by it lies
    inside the grid); with one (degrees the wind blows from, clockwise from the grid's +y axis),
    only from the upwind edge: the pixel moved that far upwind still lies inside the grid.
    """
    import shapely

    box = shapely.box(*grid.bounds)
    geoms = polygons.to_numpy()
    if min_edge_distance_m < 0 or not np.isfinite(min_edge_distance_m):
        raise InputDataError(
            f"min_edge_distance_m must be a finite distance >= 0 m, got {min_edge_distance_m!r}"
        )
    if geoms.size == 0 or min_edge_distance_m == 0:
        return np.asarray(shapely.covers(box, geoms), bool)
    if wind_from_deg is None:
        return np.asarray(shapely.covers(box, shapely.buffer(geoms, min_edge_distance_m)), bool)
    theta = np.radians(np.broadcast_to(np.asarray(wind_from_deg, float), geoms.shape))
    # the direction the wind comes FROM is (sin θ, cos θ); move each pixel that far upstream
    dx = min_edge_distance_m * np.sin(theta)
    dy = min_edge_distance_m * np.cos(theta)
    rings = shapely.get_coordinates(geoms).reshape(geoms.size, -1, 2)
    moved = shapely.polygons(rings + np.stack([dx, dy], axis=-1)[:, None, :])
    return np.asarray(shapely.covers(box, geoms) & shapely.covers(box, moved), bool)


def _select(
    path: Path,
    ok_quality: np.ndarray,
    polygons: gpd.GeoSeries,
    grid: GridSpec | None,
    min_edge_distance_m: float,
    wind_from_deg: float | np.ndarray | None,
    metadata: dict[str, str],
    rule: str,
) -> np.ndarray:
    """Indices of usable pixels; one log line when there are none."""
    n = ok_quality.size
    if wind_from_deg is not None and np.ndim(wind_from_deg) and np.size(wind_from_deg) != n:
        raise InputDataError(
            f"wind_from_deg has {np.size(wind_from_deg)} values but {path} has {n} pixels; give "
            "one direction or one per pixel"
        )
    inside = (
        np.ones(n, bool)
        if grid is None
        else _inside_grid(polygons, grid, min_edge_distance_m, wind_from_deg)
    )
    use = ok_quality & inside
    metadata.update(
        n_pixels=str(n),
        n_quality_rejected=str(int((~ok_quality).sum())),
        n_outside_grid=str(int((ok_quality & ~inside).sum())),
        n_used=str(int(use.sum())),
    )
    if not use.any():
        logger.warning(
            "%s: no usable pixel (%d pixels, %d failed the quality rule %s, %d of the rest "
            "outside the grid or within %.0f m of its edge)",
            path,
            n,
            int((~ok_quality).sum()),
            rule,
            int((ok_quality & ~inside).sum()),
            min_edge_distance_m,
        )
    return np.flatnonzero(use)


# --------------------------------------------------------------------------------------------
# TROPOMI


def _check_tropomi_identity(path: Path, ds: netCDF4.Dataset) -> None:
    text = _global_text(ds)
    has_column = _has(ds, _TROPOMI_NO2_VAR)
    says_no2 = re.search(rf"(?<![A-Za-z]){_NO2}(?![A-Za-z])", text, re.IGNORECASE) is not None
    says_s5p = re.search(r"S5P|TROPOMI|Sentinel-5", text, re.IGNORECASE) is not None
    if has_column or (says_no2 and says_s5p):
        return
    what = f"title {(_attr(ds, 'title') or '')!r}" if text.strip() else "no product attributes"
    raise InputFileError(
        f"{path}: not a TROPOMI/S5P L2 {_NO2} file ({what}, and no "
        f"{_TROPOMI_NO2_VAR!r}). Fix: give an S5P L2__{_NO2}___ product file (processor >= "
        f"{MIN_TROPOMI_PROCESSOR_VERSION[0]}.{MIN_TROPOMI_PROCESSOR_VERSION[1]}); an OCO Lite "
        "file is read by read_oco_lite"
    )


def _check_processor_version(path: Path, ds: netCDF4.Dataset) -> str:
    text = _attr(ds, "processor_version")
    version = None if text is None else _version_tuple(text)
    need = ".".join(map(str, MIN_TROPOMI_PROCESSOR_VERSION))
    if version is None:
        raise InputFileError(
            f"{path}: no readable global attribute 'processor_version' (got {text!r}); columns "
            f"of processors below {need} are biased low and refused. Fix: use a product file "
            "with its global attributes intact"
        )
    if version[:2] < MIN_TROPOMI_PROCESSOR_VERSION:
        raise InputFileError(
            f"{path}: processor_version {text} is below {need}; those tropospheric {_NO2} columns "
            "are biased low over polluted areas (van Geffen et al. 2022). Fix: use the "
            f"reprocessed (RPRO) or offline product of processor {need} or later"
        )
    return str(text)


def _scanline_times(path: Path, ds: netCDF4.Dataset) -> np.ndarray:
    """``time_utc`` strings ``(time, scanline)`` as datetime64[ns] UTC."""
    raw = ds["PRODUCT/time_utc"][...]
    text = np.asarray(np.ma.filled(raw, ""), dtype=str).ravel()
    try:
        return np.array([np.datetime64(t.strip().rstrip("Z"), "ns") for t in text])
    except ValueError:
        bad = next(t for t in text if not re.match(r"\d{4}-\d\d-\d\dT", t))
        raise InputDataError(
            f"{path}: PRODUCT/time_utc holds {bad!r}, not an ISO 8601 UTC time. Fix: give the "
            "product's per-scanline UTC times (YYYY-MM-DDThh:mm:ss.ffffffZ)"
        ) from None


def read_tropomi_no2(
    path: str | Path,
    *,
    grid: GridSpec | None = None,
    qa_min: float = 0.75,
    min_edge_distance_m: float = 0.0,
    wind_from_deg: float | np.ndarray | None = None,
) -> SatelliteColumns:
    """Read the usable pixels of a TROPOMI/S5P L2 nitrogen-dioxide file.

    Parameters
    ----------
    path : path
        An S5P Level-2 nitrogen-dioxide (``L2__`` product) NetCDF-4 file (processor 2.2 or later).
    grid : GridSpec, optional
        Keep only pixels wholly inside this grid, footprints in its CRS; None: every pixel
        passing the quality rule, footprints in lon/lat.
    qa_min : float
        Quality rule: pixels with ``qa_value > qa_min`` are kept (0.75 is the PUM's rule for
        tropospheric columns; it removes cloud radiance fractions above 0.5, snow and errors).
    min_edge_distance_m : float
        Truncation distance, metres: a pixel is used only when at least this far inside the grid
        boundary (from every edge, or from the upwind edge when ``wind_from_deg`` is given), so
        that sources upwind outside the grid cannot reach it.
    wind_from_deg : float or ndarray ``(n_pixels_in_file,)``, optional
        Direction the wind blows from, degrees clockwise from the grid's +y axis (≈ north); one
        value or one per pixel of the file (flattened scanline-major).

    Returns
    -------
    SatelliteColumns
        Tropospheric nitrogen-dioxide columns in mol m-2 with their precision, the tropospheric averaging
        kernel A_trop = A·M/M_trop (0 above the tropopause layer), the TM5 layer pressures and
        the surface pressure.

    Raises
    ------
    InputFileError
        Not a NetCDF file, not an S5P nitrogen-dioxide product, a group or variable missing, or a processor
        version below 2.2.
    InputDataError
        Units that cannot be converted to mol m-2, implausible magnitudes or unreadable times.
    """
    with _opened(path) as (p, ds):
        _check_tropomi_identity(p, ds)
        err = _missing_error(p, ds, _TROPOMI_VARIABLES, f"TROPOMI L2 {_NO2}")
        if err is not None:
            raise err
        version = _check_processor_version(p, ds)
        metadata = _metadata(p, ds, _TROPOMI_PRODUCT)
        metadata["processor_version"] = version

        col_var = ds[_TROPOMI_NO2_VAR]
        shape = col_var.shape  # (time, scanline, ground_pixel)
        n_scan, n_ground = shape[-2], shape[-1]
        col_units = _attr(col_var, "units")
        to_canonical = _unit_factor(col_units, "mol / m**2", p, _TROPOMI_NO2_VAR)
        prec_name = _TROPOMI_NO2_VAR + "_precision"
        prec_factor = _unit_factor(_attr(ds[prec_name], "units"), "mol / m**2", p, prec_name)
        value = _values(ds, _TROPOMI_NO2_VAR).reshape(-1) * to_canonical
        precision = _values(ds, prec_name).reshape(-1) * prec_factor
        qa = _values(ds, "PRODUCT/qa_value").reshape(-1)
        if np.nanmax(qa, initial=0.0) > 1.0 + 1e-6:
            raise InputDataError(
                f"{p}: PRODUCT/qa_value reaches {np.nanmax(qa):g}, above 1: its scale_factor "
                "(0.01 in the product) is missing. Fix: keep the variable's scale_factor attribute"
            )
        times = np.repeat(_scanline_times(p, ds).reshape(-1, n_scan)[0], n_ground)
        lat_b = _values(ds, f"{_GEO}/latitude_bounds").reshape(-1, 4)
        lon_b = _values(ds, f"{_GEO}/longitude_bounds").reshape(-1, 4)
        ps = _values(ds, f"{_INPUT}/surface_pressure").reshape(-1)
        ps *= _unit_factor(_attr(ds[f"{_INPUT}/surface_pressure"], "units"), "Pa", p, "ps")
        n_layer = ds["PRODUCT/averaging_kernel"].shape[-1]
        ak = _values(ds, "PRODUCT/averaging_kernel").reshape(-1, n_layer)
        amf_trop = _values(ds, "PRODUCT/air_mass_factor_troposphere").reshape(-1)
        amf_total = _values(ds, "PRODUCT/air_mass_factor_total").reshape(-1)
        trop_index = _values(ds, "PRODUCT/tm5_tropopause_layer_index").reshape(-1)
        a = _values(ds, "PRODUCT/tm5_constant_a")
        a *= _unit_factor(_attr(ds["PRODUCT/tm5_constant_a"], "units"), "Pa", p, "tm5_constant_a")
        b = _values(ds, "PRODUCT/tm5_constant_b")
        crf = (
            _values(ds, f"{_DETAILED}/cloud_radiance_fraction_nitrogendioxide_window").reshape(-1)
            if _has(ds, f"{_DETAILED}/cloud_radiance_fraction_nitrogendioxide_window")
            else None
        )

    if a.shape != (n_layer, 2) or b.shape != (n_layer, 2):
        raise InputDataError(
            f"{p}: tm5_constant_a/b have shapes {a.shape}/{b.shape}, expected ({n_layer}, 2) "
            "(layer, vertices) to match the averaging kernel's layers"
        )
    finite = (
        np.isfinite(value)
        & np.isfinite(precision)
        & np.isfinite(qa)
        & np.isfinite(lat_b).all(axis=1)
        & np.isfinite(lon_b).all(axis=1)
        & np.isfinite(amf_trop)
        & (amf_trop > 0)
        & np.isfinite(amf_total)
        & np.isfinite(ps)
        & np.isfinite(trop_index)
        & np.isfinite(ak).all(axis=1)
    )
    # qa_value is a ubyte × 0.01: compare on whole hundredths so that 0.75 is not "> 0.75"
    ok_quality = finite & (np.round(np.nan_to_num(qa) * 100.0) > round(qa_min * 100.0 + 1e-9))
    polygons = _polygons(lon_b, lat_b, grid)
    use = _select(
        p,
        ok_quality,
        polygons,
        grid,
        min_edge_distance_m,
        wind_from_deg,
        metadata,
        f"qa_value > {qa_min}",
    )
    if use.size:
        median = float(np.median(np.abs(value[use])))
        if median > _NO2_COLUMN_LIMIT_MOL_M2:
            raise InputDataError(
                f"{p}: median tropospheric {_NO2} column {median:.3g} mol m-2 after converting "
                f"from {col_units!r} is implausible (real columns are below 1e-3 mol "
                "m-2). Fix: correct the column's units attribute"
            )
    layers = np.arange(n_layer)
    trop = layers[None, :] <= trop_index[use, None]
    ratio = (amf_total[use] / amf_trop[use])[:, None]
    kernel = np.where(trop, ak[use] * ratio, 0.0)
    pressure = a[None, :, :] + b[None, :, :] * ps[use, None, None]
    extra = {
        "amf_troposphere": amf_trop[use],
        "amf_total": amf_total[use],
        "tropopause_layer_index": trop_index[use].astype(np.int64),
        "qa_value": np.round(qa[use], 2),
        "scanline": (use // n_ground) % n_scan,
        "ground_pixel": use % n_ground,
    }
    if crf is not None:
        extra["cloud_radiance_fraction"] = crf[use]
    return SatelliteColumns(
        product=_TROPOMI_PRODUCT,
        quantity="tropospheric_no2_column",
        unit="mol m-2",
        time=times[use],
        value=value[use],
        precision=precision[use],
        polygons=polygons.iloc[use].reset_index(drop=True),
        kernel=kernel,
        kernel_on="layers",
        pressure_pa=pressure,
        surface_pressure_pa=ps[use],
        extra=extra,
        metadata=metadata,
    )


# --------------------------------------------------------------------------------------------
# OCO Lite


def _check_oco_identity(path: Path, ds: netCDF4.Dataset) -> None:
    if _has(ds, "xco2") and _has(ds, "xco2_quality_flag"):
        return
    text = _global_text(ds)
    if re.search(r"XCO2|LtCO2|OCO-?[23]", text, re.IGNORECASE):
        return
    what = f"title {(_attr(ds, 'title') or '')!r}" if text.strip() else "no product attributes"
    raise InputFileError(
        f"{path}: not an OCO-2/OCO-3 Lite XCO2 file ({what}, and no root variables 'xco2' and "
        "'xco2_quality_flag'). Fix: give an OCO Lite (LtCO2) file; a TROPOMI file is read by "
        "read_tropomi_no2"
    )


def read_global_attributes(path: str | Path) -> dict[str, str]:
    """The global attributes of a Level-2 product file, as text (e.g. the ``truth_*``
    attributes that :mod:`gridcarbon.scenario.satellite_synthetic` writes into its SYNTHETIC
    files).

    Raises
    ------
    InputFileError
        No such file, or not a NetCDF file.
    """
    with _opened(path) as (_, ds):
        return {name: str(ds.getncattr(name)) for name in ds.ncattrs()}


def read_oco_lite(
    path: str | Path,
    *,
    grid: GridSpec | None = None,
    min_edge_distance_m: float = 0.0,
    wind_from_deg: float | np.ndarray | None = None,
    operation_modes: tuple[int, ...] | None = None,
) -> SatelliteColumns:
    """Read the usable soundings of an OCO-2/OCO-3 Lite XCO2 file (or a file in that layout).

    Parameters
    ----------
    path : path
        An OCO Lite (``LtCO2``) NetCDF-4 file.
    grid, min_edge_distance_m, wind_from_deg
        As in :func:`read_tropomi_no2`.
    operation_modes : tuple of int, optional
        Keep only these ``Sounding/operation_mode`` values (e.g. ``(OCO_SNAPSHOT_AREA_MODE,)``
        for OCO-3 snapshot areas); None: every mode.

    Returns
    -------
    SatelliteColumns
        XCO2 and its uncertainty in ppm, the column averaging kernel per level, level pressures
        (Pa), pressure weights, the a priori profile and XCO2 (ppm) and the surface pressure
        (Pa).  Soundings with ``xco2_quality_flag == 0`` are kept (the Lite files' rule).

    Raises
    ------
    InputFileError
        Not a NetCDF file, not an OCO Lite product, or a group/variable missing.
    InputDataError
        Units that cannot be converted to ppm or Pa, or implausible XCO2.
    """
    import pandas as pd

    with _opened(path) as (p, ds):
        _check_oco_identity(p, ds)
        err = _missing_error(p, ds, _OCO_VARIABLES, "OCO Lite XCO2")
        if err is not None:
            raise err
        metadata = _metadata(p, ds, "OCO_LITE_XCO2")

        def ppm(name: str) -> np.ndarray:
            return _values(ds, name) * _unit_factor(_attr(ds[name], "units"), "ppm", p, name)

        def pascal(name: str) -> np.ndarray:
            return _values(ds, name) * _unit_factor(_attr(ds[name], "units"), "Pa", p, name)

        xco2 = ppm("xco2")
        sigma = ppm("xco2_uncertainty")
        apriori = ppm("xco2_apriori")
        profile = ppm("co2_profile_apriori")
        flag = _values(ds, "xco2_quality_flag")
        kernel = _values(ds, "xco2_averaging_kernel")
        levels = pascal("pressure_levels")
        weight = _values(ds, "pressure_weight")
        psurf = pascal("Retrieval/psurf")
        mode = _values(ds, "Sounding/operation_mode")
        lat_v = _values(ds, "vertex_latitude")
        lon_v = _values(ds, "vertex_longitude")
        time_var = ds["time"]
        time_units = _attr(time_var, "units") or ""
        seconds = _values(ds, "time")
        sounding = (
            np.asarray(ds["sounding_id"][...]).astype(np.int64)
            if _has(ds, "sounding_id")
            else np.arange(xco2.size, dtype=np.int64)
        )
    m = re.match(
        r"\s*seconds since (\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?)\s*(Z|UTC)?", time_units
    )
    if m is None:
        raise InputDataError(
            f"{p}: variable 'time' has units {time_units!r}, expected 'seconds since "
            "1970-01-01 00:00:00' (UTC). Fix: give the Lite file's time variable unchanged"
        )
    epoch = pd.Timestamp(m.group(1).replace(" ", "T"))
    # float64 seconds since 1970 resolve ~0.2 µs: round to whole microseconds
    times = (epoch + pd.to_timedelta(np.round(seconds * 1e6), unit="us")).to_numpy("datetime64[ns]")

    finite = (
        np.isfinite(xco2)
        & np.isfinite(sigma)
        & np.isfinite(psurf)
        & np.isfinite(lat_v).all(axis=1)
        & np.isfinite(lon_v).all(axis=1)
        & np.isfinite(kernel).all(axis=1)
    )
    ok = finite & (flag == 0)
    rule = "xco2_quality_flag == 0"
    if operation_modes is not None:
        ok &= np.isin(mode, operation_modes)
        rule += f" and operation_mode in {tuple(operation_modes)}"
    polygons = _polygons(lon_v, lat_v, grid)
    use = _select(p, ok, polygons, grid, min_edge_distance_m, wind_from_deg, metadata, rule)
    if use.size:
        median = float(np.median(xco2[use]))
        if not _XCO2_RANGE_PPM[0] <= median <= _XCO2_RANGE_PPM[1]:
            raise InputDataError(
                f"{p}: median {CO2.display_en} column mixing ratio {median:.4g} ppm is outside "
                f"{_XCO2_RANGE_PPM} ppm. Fix: check the units attribute of 'xco2'"
            )
    return SatelliteColumns(
        product="OCO_LITE_XCO2",
        quantity="xco2",
        unit="ppm",
        time=times[use],
        value=xco2[use],
        precision=sigma[use],
        polygons=polygons.iloc[use].reset_index(drop=True),
        kernel=kernel[use],
        kernel_on="levels",
        pressure_pa=levels[use],
        surface_pressure_pa=psurf[use],
        pressure_weight=weight[use],
        apriori_profile=profile[use],
        apriori_value=apriori[use],
        extra={
            "sounding_id": sounding[use],
            "operation_mode": mode[use].astype(np.int64),
            "quality_flag": flag[use].astype(np.int64),
        },
        metadata=metadata,
    )


# --------------------------------------------------------------------------------------------
# writers of the same layouts (for simulated retrievals)

_FILL_F4 = np.float32(9.96921e36)


@dataclass(frozen=True, eq=False)
class TropomiNo2Granule:
    """The fields of one S5P L2 nitrogen-dioxide granule in file layout (``scanline × ground_pixel``).

    Parameters
    ----------
    time_utc : ndarray of datetime64, ``(scanline,)``
    latitude, longitude : ``(scanline, ground_pixel)``, degrees (pixel centres)
    latitude_bounds, longitude_bounds : ``(scanline, ground_pixel, 4)``, degrees (corners,
        counter-clockwise)
    tropospheric_column, tropospheric_column_precision : ``(scanline, ground_pixel)``, mol m-2
    qa_value : ``(scanline, ground_pixel)``, 0–1 (stored as ubyte hundredths)
    averaging_kernel : ``(scanline, ground_pixel, layer)``, 1 (total-column kernel m_l / M)
    amf_troposphere, amf_total : ``(scanline, ground_pixel)``, 1
    tropopause_layer_index : ``(scanline, ground_pixel)``, int (0-based, highest tropospheric
        layer)
    tm5_constant_a : ``(layer, 2)``, Pa; tm5_constant_b : ``(layer, 2)``, 1 — bottom and top
        interface of each layer
    surface_pressure : ``(scanline, ground_pixel)``, Pa
    cloud_radiance_fraction : ``(scanline, ground_pixel)``, 1
    cloud_fraction : ``(scanline, ground_pixel)``, 1 (written as ``cloud_fraction_crb``)
    surface_altitude : ``(scanline, ground_pixel)``, m
    solar_zenith_angle, viewing_zenith_angle : ``(scanline, ground_pixel)``, degrees
    attributes : mapping
        Global attributes (``title``, ``processor_version``, ``synthetic``, ...).
    """

    time_utc: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    latitude_bounds: np.ndarray
    longitude_bounds: np.ndarray
    tropospheric_column: np.ndarray
    tropospheric_column_precision: np.ndarray
    qa_value: np.ndarray
    averaging_kernel: np.ndarray
    amf_troposphere: np.ndarray
    amf_total: np.ndarray
    tropopause_layer_index: np.ndarray
    tm5_constant_a: np.ndarray
    tm5_constant_b: np.ndarray
    surface_pressure: np.ndarray
    cloud_radiance_fraction: np.ndarray
    cloud_fraction: np.ndarray
    surface_altitude: np.ndarray
    solar_zenith_angle: np.ndarray
    viewing_zenith_angle: np.ndarray
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class OcoLiteGranule:
    """The fields of one OCO Lite file in file layout (one row per sounding).

    Parameters
    ----------
    time : ndarray of datetime64 ``(sounding,)``, UTC
    latitude, longitude : ``(sounding,)``, degrees; vertex_latitude, vertex_longitude :
        ``(sounding, 4)``, degrees
    xco2, xco2_uncertainty, xco2_apriori : ``(sounding,)``, ppm
    xco2_quality_flag : ``(sounding,)``, 0 good, 1 bad
    xco2_averaging_kernel, pressure_weight : ``(sounding, levels)``, 1
    pressure_levels : ``(sounding, levels)``, hPa (top of atmosphere first)
    co2_profile_apriori : ``(sounding, levels)``, ppm
    psurf : ``(sounding,)``, hPa
    operation_mode : ``(sounding,)``, int (4 = snapshot area)
    cloud_fraction : ``(sounding,)``, 1 (stored as ``Retrieval/cloud_fraction``)
    attributes : mapping
        Global attributes.
    """

    time: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    vertex_latitude: np.ndarray
    vertex_longitude: np.ndarray
    xco2: np.ndarray
    xco2_uncertainty: np.ndarray
    xco2_apriori: np.ndarray
    xco2_quality_flag: np.ndarray
    xco2_averaging_kernel: np.ndarray
    pressure_weight: np.ndarray
    pressure_levels: np.ndarray
    co2_profile_apriori: np.ndarray
    psurf: np.ndarray
    operation_mode: np.ndarray
    cloud_fraction: np.ndarray
    attributes: dict[str, str] = field(default_factory=dict)


def _put(group: Any, name: str, dtype: str, dims: tuple[str, ...], data: Any, **attrs: Any):
    fill = _FILL_F4 if dtype == "f4" else None
    var = group.createVariable(name, dtype, dims, fill_value=fill, zlib=True, complevel=4)
    for key, val in attrs.items():
        var.setncattr(key, val)
    var[...] = data
    return var


def write_tropomi_no2_l2(path: str | Path, granule: TropomiNo2Granule, overwrite: bool = False):
    """Write ``granule`` in the S5P L2 nitrogen-dioxide group layout (read back by :func:`read_tropomi_no2`).

    Written atomically (a temporary file renamed into place).

    Parameters
    ----------
    path : path
        The ``.nc`` file to write.
    granule : TropomiNo2Granule
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
    """
    import netCDF4

    g = granule
    n_scan, n_ground = g.latitude.shape
    n_layer = g.averaging_kernel.shape[-1]
    ref = np.datetime64("2010-01-01T00:00:00", "s")
    t0 = np.datetime64(np.asarray(g.time_utc, "datetime64[ms]")[0], "D")
    p = Path(path)
    with atomic_path(p, overwrite=overwrite) as tmp, NETCDF_LOCK, netCDF4.Dataset(tmp, "w") as ds:
        for key, val in g.attributes.items():
            ds.setncattr(key, val)
        prod = ds.createGroup("PRODUCT")
        for dim, size in (
            ("time", 1),
            ("scanline", n_scan),
            ("ground_pixel", n_ground),
            ("corner", 4),
            ("layer", n_layer),
            ("vertices", 2),
        ):
            prod.createDimension(dim, size)
        pix = ("time", "scanline", "ground_pixel")
        _put(prod, "scanline", "f8", ("scanline",), np.arange(n_scan))
        _put(prod, "ground_pixel", "f8", ("ground_pixel",), np.arange(n_ground))
        _put(prod, "layer", "f8", ("layer",), np.arange(n_layer))
        _put(
            prod,
            "time",
            "i4",
            ("time",),
            [int((t0 - ref) / np.timedelta64(1, "s"))],
            units="seconds since 2010-01-01 00:00:00",
        )
        ms = np.asarray(g.time_utc, "datetime64[ms]")
        _put(
            prod,
            "delta_time",
            "i4",
            ("time", "scanline"),
            ((ms - t0) / np.timedelta64(1, "ms")).astype(np.int32)[None],
            units=f"milliseconds since {t0} 00:00:00",
        )
        time_utc = prod.createVariable("time_utc", str, ("time", "scanline"))
        time_utc.long_name = "Time of observation as ISO 8601 date-time string"
        for i, t in enumerate(ms):
            time_utc[0, i] = f"{np.datetime_as_string(t, unit='us')}Z"
        qa = prod.createVariable("qa_value", "u1", pix, fill_value=np.uint8(255), zlib=True)
        qa.scale_factor = np.float32(0.01)
        qa.add_offset = np.float32(0.0)
        qa.long_name = "data quality value"
        qa.comment = "A continuous quality descriptor, varying between 0 (no data) and 1 (full quality data). Recommend to ignore data with qa_value < 0.5"  # noqa: E501
        qa.set_auto_scale(False)
        qa[...] = np.round(np.clip(g.qa_value, 0, 1) * 100).astype(np.uint8)[None]
        _put(prod, "latitude", "f4", pix, g.latitude[None], units="degrees_north")
        _put(prod, "longitude", "f4", pix, g.longitude[None], units="degrees_east")
        to_molec = np.float32(6.02214e19)
        _put(
            prod,
            "nitrogendioxide_tropospheric_column",
            "f4",
            pix,
            g.tropospheric_column[None],
            units="mol m-2",
            standard_name="troposphere_mole_content_of_nitrogen_dioxide",
            multiplication_factor_to_convert_to_molecules_percm2=to_molec,
        )
        _put(
            prod,
            "nitrogendioxide_tropospheric_column_precision",
            "f4",
            pix,
            g.tropospheric_column_precision[None],
            units="mol m-2",
            multiplication_factor_to_convert_to_molecules_percm2=to_molec,
        )
        _put(
            prod,
            "averaging_kernel",
            "f4",
            (*pix, "layer"),
            g.averaging_kernel[None],
            units="1",
            long_name="averaging kernel",
        )
        _put(prod, "air_mass_factor_troposphere", "f4", pix, g.amf_troposphere[None], units="1")
        _put(prod, "air_mass_factor_total", "f4", pix, g.amf_total[None], units="1")
        _put(
            prod,
            "tm5_tropopause_layer_index",
            "i4",
            pix,
            g.tropopause_layer_index.astype(np.int32)[None],
            units="1",
        )
        _put(prod, "tm5_constant_a", "f8", ("layer", "vertices"), g.tm5_constant_a, units="Pa")
        _put(prod, "tm5_constant_b", "f8", ("layer", "vertices"), g.tm5_constant_b, units="1")
        support = prod.createGroup("SUPPORT_DATA")
        geo = support.createGroup("GEOLOCATIONS")
        corners = (*pix, "corner")
        _put(geo, "latitude_bounds", "f4", corners, g.latitude_bounds[None], units="degrees_north")
        _put(geo, "longitude_bounds", "f4", corners, g.longitude_bounds[None], units="degrees_east")
        _put(geo, "solar_zenith_angle", "f4", pix, g.solar_zenith_angle[None], units="degree")
        _put(geo, "viewing_zenith_angle", "f4", pix, g.viewing_zenith_angle[None], units="degree")
        inp = support.createGroup("INPUT_DATA")
        _put(inp, "surface_pressure", "f4", pix, g.surface_pressure[None], units="Pa")
        _put(inp, "surface_altitude", "f4", pix, g.surface_altitude[None], units="m")
        det = support.createGroup("DETAILED_RESULTS")
        _put(
            det,
            "cloud_radiance_fraction_nitrogendioxide_window",
            "f4",
            pix,
            g.cloud_radiance_fraction[None],
            units="1",
        )
        _put(det, "cloud_fraction_crb", "f4", pix, g.cloud_fraction[None], units="1")
    return p


def write_oco_lite(path: str | Path, granule: OcoLiteGranule, overwrite: bool = False):
    """Write ``granule`` in the OCO Lite layout (read back by :func:`read_oco_lite`).

    Written atomically.

    Parameters
    ----------
    path : path
        The ``.nc4`` file to write.
    granule : OcoLiteGranule
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
    """
    import netCDF4

    g = granule
    n, n_levels = g.xco2_averaging_kernel.shape
    seconds = (np.asarray(g.time, "datetime64[ms]") - np.datetime64("1970-01-01", "ms")) / (
        np.timedelta64(1, "s")
    )
    stamp = np.asarray(g.time, "datetime64[s]").astype(object)
    sounding_id = np.array(
        [int(t.strftime("%Y%m%d%H%M%S")) * 10 + i % 10 for i, t in enumerate(stamp)], np.int64
    )
    p = Path(path)
    with atomic_path(p, overwrite=overwrite) as tmp, NETCDF_LOCK, netCDF4.Dataset(tmp, "w") as ds:
        for key, val in g.attributes.items():
            ds.setncattr(key, val)
        ds.createDimension("sounding_id", n)
        ds.createDimension("levels", n_levels)
        ds.createDimension("vertices", 4)
        s = ("sounding_id",)
        lv = ("sounding_id", "levels")
        _put(ds, "sounding_id", "i8", s, sounding_id)
        _put(ds, "time", "f8", s, seconds, units="seconds since 1970-01-01 00:00:00")
        _put(ds, "latitude", "f4", s, g.latitude, units="degrees_north")
        _put(ds, "longitude", "f4", s, g.longitude, units="degrees_east")
        vx = ("sounding_id", "vertices")
        _put(ds, "vertex_latitude", "f4", vx, g.vertex_latitude, units="degrees_north")
        _put(ds, "vertex_longitude", "f4", vx, g.vertex_longitude, units="degrees_east")
        _put(
            ds,
            "xco2",
            "f4",
            s,
            g.xco2,
            units="ppm",
            long_name=f"Column-averaged dry-air mole fraction of {CO2.name} (includes bias correction)",
        )  # noqa: E501
        _put(ds, "xco2_uncertainty", "f4", s, g.xco2_uncertainty, units="ppm")
        _put(ds, "xco2_apriori", "f4", s, g.xco2_apriori, units="ppm")
        _put(
            ds,
            "xco2_quality_flag",
            "i1",
            s,
            g.xco2_quality_flag.astype(np.int8),
            comment="0=Good, 1=Bad",
        )
        _put(ds, "xco2_averaging_kernel", "f4", lv, g.xco2_averaging_kernel, units="1")
        _put(ds, "pressure_weight", "f4", lv, g.pressure_weight, units="1")
        _put(ds, "pressure_levels", "f4", lv, g.pressure_levels, units="hPa")
        _put(ds, "co2_profile_apriori", "f4", lv, g.co2_profile_apriori, units="ppm")
        ret = ds.createGroup("Retrieval")
        _put(ret, "psurf", "f4", s, g.psurf, units="hPa")
        _put(ret, "cloud_fraction", "f4", s, g.cloud_fraction, units="1")
        snd = ds.createGroup("Sounding")
        _put(
            snd,
            "operation_mode",
            "i1",
            s,
            g.operation_mode.astype(np.int8),
            comment="0=Nadir, 1=Glint, 2=Target, 3=Transition, 4=Snapshot Area Map",
        )
    return p
