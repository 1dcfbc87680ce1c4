"""Satellite columns as an observation type: the column observation operator, superobservations,
a planar background per overpass and the column error model
(:class:`gridcarbon.contracts.ObservationType`).

The input is plain arrays (:class:`ColumnPixels`): per pixel its polygon in the grid's projected
CRS, UTC time, value, precision, averaging kernel on layers with pressure edges, surface
pressure (and, for dry-air mole fractions, the water-vapour column).  A reader of a product
(TROPOMI NO2, OCO Lite XCO2) fills it.

The operator (each choice documented in ``docs/inversion.md``, "Satellite columns"):

* **vertical integral:** the crosswind line density of a column plume is ``Q/ū``; the
  vertical distribution (reflected at the ground and, in classes A–D, at the mixing height;
  above the lid for stacks released above it; never cut off) integrates to one, so only its
  share in each retrieval layer matters (:func:`~gridcarbon.kernels.column.vertical_kernel_weight`);
* **averaging kernel** layer by layer: ``Σ_l A_l w_l``; layer heights from the pressure edges
  by the hypsometric equation, isothermal at the pixel's 2 m temperature;
* **wind:** the plume-depth mean of the surface operator's ISC3 power-law profile over
  ``D = max(plume_depth_m, 2 h_eff)`` (:func:`~gridcarbon.kernels.column.plume_depth_wind`),
  independent of the mixing height;
* **NOx** as NO2: ``Q r(t) e^(-t/τ)/ū`` with the surface operator's NO2/NOx ratio ``r(t)``
  and lifetime τ (``chemistry`` settings), ``t = x/ū``;
* **units:** mol m-2 (``vertical_column``) or ppm of dry air (``dry_air_mole_fraction``:
  divided by the dry-air column ``(p_s/g − W)/M_dry``);
* **pixels:** the exact overlap of each polygon with a lattice of half the grid cell (the
  pixel mean of the field sampled at the lattice squares, mass-conserving), averaged into
  superobservations of ``superobservation_km`` squares per overpass;
* steady state at the overpass hour, with that hour's emissions and met (the met of each
  pixel's centre); truncation at ``truncation_km`` (≥ 150 km) downwind and ``lateral_sigmas``.

With ``state.mixing_height_unknowns`` the columns see the daily mixing-height scale δ through
the central difference of their modelled values with the mixing height scaled by 1 ± step.
With ``state.column_transport_unknowns`` they see three unknowns shared by every overpass of
the period: the prior modelled enhancement from urban and from rural sources, ``m_u`` and
``m_r`` (a persistent plume-depth wind error scales each), and the central difference over
the reactive species' lifetime ``m_τ`` (:data:`~gridcarbon.inversion.state.COLUMN_TERMS`).

The **background** of each overpass is a plane ``a + b x + c y`` with a flat prior: it is
marginalised exactly by projecting the whitened superobservations of the overpass onto the
complement of the whitened plane (``T = Q₂ᵀ L⁻¹`` with ``C = L Lᵀ`` and ``L⁻¹ X = Q R``): the
assimilated rows are ``T y`` and ``T H`` with unit, uncorrelated errors.  This equals
estimating three background unknowns per overpass with an infinite prior σ (exact for linear
least squares), without adding them to the state.  The same whitening carries the column
error covariance ``C`` — precision²/n, representativeness, and an air-mass-factor error
correlated in space within the overpass — so R of the assimilation stays diagonal.  ``T H``
is not formed for the inversion: a row of it is dense over the footprints of the whole
overpass, so H stays sparse and each overpass's dense ``T`` is applied blockwise
(:meth:`ColumnObservations.jacobian_operator`, a
:class:`~gridcarbon.inversion.solvers.BlockRowJacobian`); the posterior is the same.  With
``scale_error_rel`` > 0 (``errors.column_scale_error``; off by default) ``C`` also carries an
error of the whole overpass's modelled enhancement, a scale with prior σ_s marginalised as
``C + σ_s² m mᵀ`` (:func:`scale_error_covariance`).
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.linalg as sla
import scipy.sparse as sp

from gridcarbon.contracts import MeteorologySource
from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.inversion.chemistry import nox_lifetime_s
from gridcarbon.inversion.dispersion import turner_class
from gridcarbon.inversion.errors_model import gaspari_cohn
from gridcarbon.inversion.meteorology import met_at_points, with_cloud_cover
from gridcarbon.inversion.operator import Footprints, Receptors, forward, row_dot
from gridcarbon.inversion.solvers import BlockRowJacobian, PosteriorCovariance
from gridcarbon.inversion.system import quadrature_moments, transport_quadrature
from gridcarbon.kernels.column import (
    area_vertical_tables,
    column_rows_fill,
    polygon_lattice_counts,
    polygon_lattice_fill,
    rows_nonzero,
    vertical_kernel_weight,
)
from gridcarbon.kernels.dispersion import sigmas
from gridcarbon.kernels.jacobian import jacobian_fill
from gridcarbon.species import Species

if TYPE_CHECKING:  # pragma: no cover
    from gridcarbon.inversion.system import ObservationSystem
    from gridcarbon.io.satellite import SatelliteColumns

__all__ = [
    "ColumnPixels",
    "ColumnSettings",
    "ColumnObservations",
    "ColumnMatch",
    "SuperobservationPixels",
    "layer_heights",
    "plane_design",
    "dry_air_column",
    "mixing_height_sensitivity",
    "scale_error_covariance",
    "plume_shape_covariance",
    "COLUMN_ROW_KIND",
    "urban_share",
    "reactive_column_errors",
    "COLUMN_LIFETIME_ERROR_REL",
    "REACTIVE_COLUMN_SCALE_ERROR_REL",
]

log = logging.getLogger(__name__)

#: The ``kind`` of the assimilated rows of satellite columns (whitened overpass contrasts).
COLUMN_ROW_KIND = "column contrast"
#: The forms of the air-mass-factor error's correlation (:func:`amf_correlation`).
AMF_CORRELATION_SHAPES: tuple[str, ...] = ("exponential", "gaussian")
#: Standard gravity, m s-2 (the dry-air column and the scale height).
GRAVITY = 9.80665
#: Molar mass of dry air, kg mol-1.
M_DRY_AIR = 0.0289644
#: Gas constant of dry air, J kg-1 K-1.
R_DRY_AIR = 287.05

#: 1-σ relative errors of an NO2 column's modelled enhancement common to a whole overpass,
#: chosen a priori (``docs/inversion.md``, "Overpass-wide scale error"): the NO2/NOx ratio of
#: the early-afternoon boundary layer (~20 %); the NOx lifetime, whose fitted values span
#: 2–8 h over TROPOMI sources (Lange et al., 2022, ACP 22, 2745) against the operator's one
#: daytime value (~30 % of the enhancement: it grows less than in proportion to τ near the
#: sources); the overpass-wide part of the tropospheric air-mass-factor error, which dominates
#: the column's systematic uncertainty in polluted scenes (Lorente et al., 2017, AMT 10, 759;
#: van Geffen et al., 2022, AMT 15, 2037), beyond the 15 % correlated over 50 km that
#: ``amf_error_rel`` already carries (~20 %).
REACTIVE_COLUMN_SCALE_ERROR_PARTS: dict[str, float] = {
    "conversion_ratio": 0.20,
    "lifetime": 0.30,
    "air_mass_factor": 0.20,
}
#: Their quadrature sum, ≈ 0.41: ``ColumnSettings.scale_error_rel`` of NO2 columns when
#: ``errors.column_scale_error`` is on.
REACTIVE_COLUMN_SCALE_ERROR_REL: float = float(
    np.sqrt(sum(v**2 for v in REACTIVE_COLUMN_SCALE_ERROR_PARTS.values()))
)
#: 1-σ relative error of the NOx lifetime of an NO2 overpass when
#: ``errors.column_lifetime_error`` is on: ±50 %, the spread between the published daytime
#: lifetimes over eastern China (Shah et al., 2020, ACP 20, 1483; Lange et al., 2022), the same
#: as the surface operator's ``errors.model_error_nox_lifetime_rel`` for real data.
COLUMN_LIFETIME_ERROR_REL: float = 0.5


def reactive_column_errors(scale_error: bool, lifetime_error: bool) -> dict[str, float]:
    """The NO2 columns' ``scale_error_rel`` and ``lifetime_error_rel`` for the switches
    ``errors.column_scale_error`` and ``errors.column_lifetime_error``: with the lifetime's own
    term on, the overpass-wide scale drops its lifetime part (√(0.2² + 0.2²) ≈ 0.28), so the
    lifetime is not counted twice."""
    parts = dict(REACTIVE_COLUMN_SCALE_ERROR_PARTS)
    if lifetime_error:
        parts.pop("lifetime")
    scale = float(np.sqrt(sum(v**2 for v in parts.values()))) if scale_error else 0.0
    return {
        "scale_error_rel": scale,
        "lifetime_error_rel": COLUMN_LIFETIME_ERROR_REL if lifetime_error else 0.0,
    }


Quantity = Literal["vertical_column", "dry_air_mole_fraction"]
#: The candidate turns of ``ColumnSettings.wind_direction_fit``, in units of the direction
#: error's σ: ±2σ holds 95 % of the prior, and a step of σ (30° by default) is about the
#: width of a 9 km superobservation seen from a plume 20 km downwind.
DIRECTION_FIT_NODES = np.linspace(-2.0, 2.0, 5)
#: 1-σ of a plume's strength relative to the prior's in that fit: the prior emissions'
#: plume, give or take its own size (emissions in a city-scale cell are uncertain by tens of
#: per cent, and the lifetime and NO2/NOx ratio add to it).
DIRECTION_FIT_STRENGTH_SD = 1.0

_UNITS = {"vertical_column": "mol m-2", "dry_air_mole_fraction": "ppm"}


@dataclass(frozen=True, eq=False)
class ColumnPixels:
    """Retrieved columns, one value per pixel.

    Attributes
    ----------
    corner_x, corner_y : ndarray ``(n, nc)`` float64
        Polygon corners in order (3 ≤ nc ≤ 16), m in the grid's projected CRS.
    time : ndarray ``(n,)`` datetime64
        Observation time, UTC (naive).
    value : ndarray ``(n,)`` float64
        Retrieved column: mol m-2 (vertical column) or ppm (dry-air mole fraction).
    precision : ndarray ``(n,)`` float64
        Retrieval 1-σ, same unit, > 0.
    averaging_kernel : ndarray ``(n, nl)`` float64
        Column averaging kernel per layer (1: the retrieval sees the layer fully; 0: not at
        all, e.g. above the tropopause of a tropospheric column).
    pressure_edges : ndarray ``(n, nl + 1)`` float64
        Layer edges, Pa, from the surface upward (strictly decreasing, ≥ 0; 0 is the top of
        the atmosphere).
    surface_pressure : ndarray ``(n,)`` float64
        Pa; the first edge must be within 5 % of it.
    overpass : ndarray ``(n,)``, optional
        Overpass (orbit) label; default: pixels more than 20 minutes apart are different
        overpasses.
    water_vapour_column : ndarray ``(n,)`` float64, optional
        Total column water vapour, kg m-2; needed for dry-air mole fractions.
    source : str
        What the pixels are (a file name or "synthetic ..."), for messages.
    product : str
        The Level-2 product the pixels come from (a reader's ``metadata["product"]``), for
        the outputs; empty when not known.
    """

    corner_x: np.ndarray
    corner_y: np.ndarray
    time: np.ndarray
    value: np.ndarray
    precision: np.ndarray
    averaging_kernel: np.ndarray
    pressure_edges: np.ndarray
    surface_pressure: np.ndarray
    overpass: np.ndarray | None = None
    water_vapour_column: np.ndarray | None = None
    source: str = "column pixels"
    product: str = ""

    def __post_init__(self) -> None:
        n = np.shape(self.value)[0] if np.ndim(self.value) == 1 else -1
        where = self.source
        if n <= 0:
            raise InputDataError(f"{where}: no pixels (value must be a non-empty 1-D array)")
        cx, cy = np.asarray(self.corner_x, float), np.asarray(self.corner_y, float)
        if cx.ndim != 2 or cx.shape != cy.shape or cx.shape[0] != n or not 3 <= cx.shape[1] <= 16:
            raise InputDataError(
                f"{where}: corner_x and corner_y must both be (n_pixels, 3..16) = ({n}, nc); got "
                f"{cx.shape} and {cy.shape}"
            )
        ak = np.asarray(self.averaging_kernel, float)
        pe = np.asarray(self.pressure_edges, float)
        if ak.ndim != 2 or ak.shape[0] != n or pe.shape != (n, ak.shape[1] + 1):
            raise InputDataError(
                f"{where}: averaging_kernel must be (n_pixels, n_layers) and pressure_edges "
                f"(n_pixels, n_layers + 1); got {ak.shape} and {pe.shape}"
            )
        for name in ("time", "precision", "surface_pressure"):
            if np.shape(getattr(self, name)) != (n,):
                raise InputDataError(
                    f"{where}: {name} must have one value per pixel ({n}); got "
                    f"{np.shape(getattr(self, name))}"
                )
        arrays = {
            "corner_x": cx,
            "corner_y": cy,
            "value": np.asarray(self.value, float),
            "precision": np.asarray(self.precision, float),
            "averaging_kernel": ak,
            "surface_pressure": np.asarray(self.surface_pressure, float),
        }
        for name, a in arrays.items():
            bad = ~np.isfinite(a)
            if bad.any():
                first = int(np.argwhere(bad)[0][0])
                raise InputDataError(
                    f"{where}: {name} of pixel {first} is not finite; drop such pixels first "
                    "(a reader drops flagged pixels)"
                )
        if np.any(arrays["precision"] <= 0):
            first = int(np.flatnonzero(arrays["precision"] <= 0)[0])
            raise InputDataError(
                f"{where}: precision of pixel {first} is {arrays['precision'][first]!r}; it must "
                "be > 0"
            )
        with np.errstate(invalid="ignore"):
            good = np.isfinite(pe).all(1) & (pe >= 0).all(1) & (np.diff(pe, axis=1) < 0).all(1)
        if not good.all():
            first = int(np.flatnonzero(~good)[0])
            raise InputDataError(
                f"{where}: pressure_edges of pixel {first} must be finite, ≥ 0 and strictly "
                f"decreasing from the surface upward; got {pe[first][:4]}…"
            )
        ps = arrays["surface_pressure"]
        off = np.abs(pe[:, 0] / ps - 1.0)
        if np.any(off > 0.05) or np.any(ps < 3.0e4) or np.any(ps > 1.1e5):
            first = int(np.flatnonzero((off > 0.05) | (ps < 3.0e4) | (ps > 1.1e5))[0])
            raise InputDataError(
                f"{where}: surface_pressure of pixel {first} is {ps[first]!r} Pa and its first "
                f"pressure edge {pe[first, 0]!r} Pa; give both in Pa, the first edge at the "
                "surface"
            )
        t = np.asarray(self.time)
        if not np.issubdtype(t.dtype, np.datetime64):
            raise InputDataError(f"{where}: time must be datetime64 (UTC); got {t.dtype}")
        if self.water_vapour_column is not None:
            w = np.asarray(self.water_vapour_column, float)
            if w.shape != (n,) or np.any(~np.isfinite(w)) or np.any(w < 0) or np.any(w > 100):
                raise InputDataError(
                    f"{where}: water_vapour_column must be one value per pixel in kg m-2 (0..100)"
                )

    @property
    def n(self) -> int:
        return int(np.shape(self.value)[0])

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean of each pixel's corners, m."""
        return np.mean(self.corner_x, axis=1), np.mean(self.corner_y, axis=1)

    @classmethod
    def from_satellite(
        cls, columns: SatelliteColumns, water_vapour_column: np.ndarray | float | None = None
    ) -> ColumnPixels:
        """The pixels of a Level-2 file read by :func:`gridcarbon.io.satellite.read_tropomi_no2`
        or :func:`~gridcarbon.io.satellite.read_oco_lite` (with ``grid=``: corners in the grid's
        metres).

        TROPOMI: the tropospheric kernel on the TM5 layers and their pressure edges, as read.
        OCO Lite: the kernel is given on pressure levels; each layer between two levels takes
        the mean of its two levels' kernels (a stated approximation of the level-to-layer
        interpolation), and the dry-air mole fraction needs ``water_vapour_column`` (kg m-2,
        e.g. ERA5 ``tcwv`` at the soundings; one value or one per pixel).  One file is one
        overpass, labelled by the file's name (without its folder).
        """
        if columns.polygons.crs is not None and columns.polygons.crs.is_geographic:
            raise InputDataError(
                f"{columns.metadata.get('file', 'satellite file')}: its pixels are in lon/lat; "
                "read the file with grid= so that their corners are in the grid's metres"
            )
        corners = [np.asarray(p.exterior.coords)[:-1] for p in columns.polygons]
        if len({c.shape for c in corners}) != 1:
            raise InputDataError(
                f"{columns.metadata.get('file', 'satellite file')}: pixels with different "
                "numbers of corners"
            )
        xy = np.stack(corners)
        if columns.kernel_on == "layers":
            kernel = np.asarray(columns.kernel, float)
            bottoms_tops = np.asarray(columns.pressure_pa, float)
            edges = np.concatenate([bottoms_tops[:, :, 0], bottoms_tops[:, -1:, 1]], axis=1)
        else:  # levels, OCO: top of the atmosphere first
            levels = np.asarray(columns.pressure_pa, float)
            order = np.argsort(-levels, axis=1)  # from the surface up
            levels = np.take_along_axis(levels, order, axis=1)
            level_kernel = np.take_along_axis(np.asarray(columns.kernel, float), order, axis=1)
            kernel = 0.5 * (level_kernel[:, 1:] + level_kernel[:, :-1])
            edges = levels
        water = None
        if water_vapour_column is not None:
            water = np.broadcast_to(np.asarray(water_vapour_column, float), columns.value.shape)
        return cls(
            corner_x=xy[:, :, 0],
            corner_y=xy[:, :, 1],
            time=np.asarray(columns.time, "datetime64[ns]"),
            value=np.asarray(columns.value, float),
            precision=np.asarray(columns.precision, float),
            averaging_kernel=kernel,
            pressure_edges=edges,
            surface_pressure=np.asarray(columns.surface_pressure_pa, float),
            overpass=np.full(
                columns.value.shape, PurePath(str(columns.metadata.get("file", "overpass"))).name
            ),
            water_vapour_column=None if water is None else np.array(water),
            source=str(columns.metadata.get("file", "satellite file")),
            product=str(columns.metadata.get("product", "")),
        )

    def overpass_labels(self) -> np.ndarray:
        """The overpass of each pixel: as given, or numbered by gaps of more than 20 minutes."""
        if self.overpass is not None:
            return np.asarray(self.overpass).astype(str)
        t = np.asarray(self.time, "datetime64[ns]")
        order = np.argsort(t, kind="stable")
        gaps = np.diff(t[order]) > np.timedelta64(20, "m")
        labels = np.empty(self.n, dtype=object)
        labels[order] = np.concatenate([[0], np.cumsum(gaps)]).astype(str)
        return labels.astype(str)


@dataclass(frozen=True)
class ColumnSettings:
    """Settings of the column operator and error model.

    Attributes
    ----------
    truncation_km : float
        Downwind reach of the column plumes (≥ 150 km: a large city's plume stays visible that
        far).
    lateral_sigmas : float
        Lateral truncation, sigma_y (4: 6e-5 of the mass lost).
    min_upwind_fetch_km : float or None
        Pixels whose centre is closer than this to the grid's edge upwind are not used (their
        plumes would come from outside the grid); None: ``truncation_km``.
    plume_depth_m : float
        Depth over which the wind of a ground-level release is averaged.
    sample_cells : int
        Lattice squares per grid-cell edge for the pixel integration.
    source_subcells : int
        Sub-cells per cell edge of an area source within ``source_subcells_near_km`` along the
        wind of a pixel; farther cells are one source at their centre (the crosswind integral
        over the cell's width stays exact).
    source_subcells_near_km : float
    superobservation_km : float
        Edge of the squares pixels are averaged into (per overpass).
    stack_pixels_km : float
        Pixels whose centre lies within this distance (km) of a point source with its own
        unknowns are kept as superobservations of one pixel each, so that a stack's plume is
        not averaged with its surroundings; 0 (the default): none.
    representativeness_rel : float
        1-σ representativeness error of a superobservation as a fraction of its prior modelled
        column (pixel vs 3 km model).
    amf_error_rel : float
        1-σ air-mass-factor error as a fraction of the column, correlated within an overpass;
        vertical columns only (a dry-air mole fraction such as XCO2 has no air-mass factor).
    amf_correlation_km : float
        Length of that correlation, km: the e-folding distance of the exponential
        ``exp(−d/L)`` or the standard deviation of the Gaussian ``exp(−d²/2L²)``.
    amf_correlation_shape : {'exponential', 'gaussian'}
        Its form (:func:`amf_correlation`); a Gaussian is smoother, its errors reach further
        before they decorrelate (the choice and L can be read off the innovations:
        ``benchmarks/column_innovation_correlation.py``).
    scale_error_rel : float
        1-σ of a multiplicative error of the modelled enhancement common to every
        superobservation of an overpass (NO2/NOx ratio, lifetime and the overpass-wide part of
        the air-mass factor; :data:`REACTIVE_COLUMN_SCALE_ERROR_REL`), marginalised analytically
        (:func:`scale_error_covariance`); 0 (the default): no such term.
    wind_speed_error_rel : float
        1-σ relative error of the plume-depth wind speed of an overpass, drawn independently
        for the sources in urban and in rural cells (the dispersion's own urban rule): a
        column enhancement scales as 1/wind, so the two parts of the prior modelled
        enhancement, ``m_u`` and ``m_r``, are marginalised like the scale error,
        ``C + σ_w² (m_u m_uᵀ + m_r m_rᵀ)`` (``errors.column_wind_speed_error``); 0 (the
        default): no such term.
    wind_speed_shape : bool
        With ``wind_speed_error_rel`` > 0: the wind-speed term as a plume-shape term instead
        of the two scales above (``errors.column_wind_speed_shape``): the prior modelled
        enhancement is recomputed with every pixel's wind speed times ``exp(σ_w z)`` at the
        Gauss–Hermite nodes ``z`` (``quadrature_nodes``; the calm floor still applies and the
        Turner class is recomputed from the new speed), and the nodes' covariance, tapered as
        the direction's (``shape_localisation_km``, :func:`plume_shape_covariance`), is
        added to ``C``: a faster wind thins a plume, carries a reactive species farther
        before it decays and changes its stability, so the error is not one scale of the
        overpass, and a wind-speed error varies within an overpass.  ``quadrature_nodes − 1``
        more operator builds (its central node is shared with the direction's when both are
        on and sampled coarse).
    wind_speed_shape_correlation : {'tapered', 'overpass'}
        With ``wind_speed_shape``: the nodes' covariance tapered as the direction's
        ('tapered', the default: a wind-speed error varies within an overpass) or whole over
        the overpass ('overpass': one speed error per overpass, as the two scales have, but
        with the plumes recomputed: ``C + Σ_k δ_k δ_kᵀ``)
        (``errors.column_wind_speed_shape_correlation``).
    lifetime_error_rel : float
        1-σ relative error of the NOx lifetime of an overpass (:data:`COLUMN_LIFETIME_ERROR_REL`
        with ``errors.column_lifetime_error``): it changes the plumes' decay length, their
        shape and not only their size, so its column is the central difference of the prior
        modelled enhancement over τ × (1 ± σ_τ), ``m_τ``, marginalised as ``C + σ_τ² m_τ
        m_τᵀ``; 0 (the default): no such term.  Two more operator builds per overpass set.
    wind_direction_error_deg : float
        1-σ (degrees, normal) of the direction of every pixel's wind in an overpass, the
        plume-shape error (``errors.column_wind_direction_error``): the prior modelled
        enhancement is recomputed with the wind turned by the Gauss–Hermite nodes of that
        normal (``quadrature_nodes``), and the nodes' covariance, tapered with Gaspari–Cohn of
        half-width ``shape_localisation_km``, is added to ``C``
        (:func:`plume_shape_covariance`): a turned plume moves its enhancement across the
        wind, an error correlated along each plume that no scale of its strength describes;
        0 (the default): no such term.  ``quadrature_nodes − 1`` more operator builds.
    wind_direction_fit : bool
        With ``wind_direction_error_deg`` > 0: before H is built, fit one turn of the wind per
        overpass to the overpass's own columns (:func:`fit_plume_turn`): the prior modelled
        enhancement is made with every wind of the overpass turned by
        :data:`DIRECTION_FIT_NODES` × the direction σ (coarse operators with
        ``auxiliary_sampling`` 'coarse'), and the most probable turn given the
        background-free columns, the plume's strength integrated out and the normal prior of
        the direction error, is kept; H, the plume-shape nodes and the mixing-height and lifetime
        slopes are then built with the overpass's winds turned by it
        (``errors.column_wind_direction_fit``).  A displaced plume is a dipole along the plume
        that no scale of its strength and no spread about the unturned plume removes; the
        fitted turn moves the plume.  The plume-shape term keeps its σ: the turn is one per
        overpass, the error a field.  ``match().footprints`` stay the unturned operator's.
        Six more operator builds per overpass set (five candidate turns and H).  False (the
        default): no fit.
    wind_direction_fit_prior : {'pointwise', 'overpass_mean'}
        The σ of the fitted turn's normal prior: 'pointwise' (the default), the direction
        error's σ; 'overpass_mean', the σ of the overpass's mean of a direction-error field
        whose correlation is the plume-shape term's taper (σ × √(mean over the overpass's
        superobservation pairs of GC(d / ``shape_localisation_km``))), smaller: the turn
        fitted is an average over the overpass, not a pixel's error.  With
        ``wind_direction_fit_tile_km`` the same two choices for each tile: the field's σ at
        the tile's centre, tiles correlated as the taper of their centres' distance, or the σ
        and correlations of the tiles' means.
    wind_direction_fit_tile_km : float or None
        With ``wind_direction_fit``: fit the turn as a field, one turn per square tile of this
        side (a lattice from the grid's origin in its CRS; each overpass's superobservations
        grouped by the tile of their centre), jointly, with the normal prior of the tiles'
        turns correlated as the plume-shape term's taper (:func:`fit_plume_turns`).  None
        (the default): one turn per overpass.
    shape_localisation_km : float
        Half-width ``c`` of the Gaspari–Cohn taper of the plume-shape error (correlation 0
        beyond ``2c``).
    quadrature_nodes : int
        Gauss–Hermite nodes of the plume-shape error (2–15).
    expected_plume : bool
        With ``wind_direction_error_deg`` > 0: the rows of H are the nodes' weighted mean, the
        expected plume under the direction error (as ``errors.transport_error_model``
        'quadrature' does for the stations), so R's term is the spread about what H models;
        the mixing-height and lifetime columns stay the central plume's, and ``footprints``
        are the central plume's (``errors.column_expected_plume``).  False (the default): H
        is the central plume.
    mixing_height_error_rel : float
        1-σ relative error of the mixing height of an overpass
        (``errors.column_mixing_height_error``): under a retrieval's averaging kernel a column
        still depends on it (the kernel is below 1 near the ground), so the central difference
        of the prior modelled enhancement over zi × (1 ± σ), ``m_z``, is marginalised as
        ``C + σ² m_z m_zᵀ``; with the state's mixing-height unknowns the columns' rows then
        carry no column for them, so the daily scales are set by the stations alone and the
        columns are told how much of their signal the scale could explain.  0 (the default):
        no such term, and with the unknowns the columns carry their column in H.  Two more
        operator builds per overpass set.
    auxiliary_sampling : {'full', 'coarse'}
        The sampling of the operators built only for an error term or a state slope (the
        plume-shape nodes, the mixing height and the lifetime at 1 ± their step): 'full' (the
        default) = ``sample_cells`` and ``source_subcells``; 'coarse' = 1 and 1, about half the
        cost of a build.  With 'coarse' every plume-shape node, the central one included, is
        built coarse (the spread is then not a difference of two samplings); H itself stays at
        full sampling, so 'coarse' is refused with ``expected_plume``.
    min_superobservations : int
        Overpasses with fewer superobservations are not used (4 at least: three go into the
        plane).
    lifetime_h : float or None
        The NOx e-folding lifetime (h) of the column plumes instead of the ``chemistry``
        settings' (None, the default).  Set per overpass only by the OSSE's diagnostic
        ``osse.satellite_truth_chemistry``, which hands the simulated truth's chemistry over.
    no2_ratio : float or None
        A flat NO2/NOx molar ratio in (0, 1] instead of the ``chemistry`` settings' ramp from
        the primary to the equilibrium fraction (None, the default); the same diagnostic.
    photostationary_no2 : bool
        The column plumes' NO2/NOx ratio is the ``chemistry`` settings' equilibrium
        (photostationary) fraction from the source on — NO titrated by ozone within minutes,
        the constant ratio of the TROPOMI source studies — instead of its ramp from the primary
        fraction (``inversion.columns.no2_conversion: photostationary``; False, the default:
        the ramp, as the stations' operator has it).  ``no2_ratio`` overrides it.
    plume_wind_m_s : tuple of float or None
        One wind ``(u, v)`` (m s⁻¹, towards grid east and grid north) that carries every
        plume of every pixel — its direction and its speed, urban and rural sources and stacks
        alike — instead of each pixel's 10 m wind with the ISC3 profile's plume-depth mean
        (None, the default).  The stability class, the spreads and the stacks' rise stay the
        met's.  Set per overpass only by the OSSE's diagnostic ``osse.satellite_truth_wind``,
        which hands the simulated truth's one wind per overpass over.
    lifetime_reference : float
        The state's lifetime scale ``c₀`` the operator is linearised at: the lifetime is
        τ (1 + c₀), and with ``state.column_transport_unknowns`` the rows carry the linearised
        model ``H(c₀) x + m (c − c₀)`` (Gauss–Newton, ``state.column_lifetime_iterations``;
        :meth:`ColumnObservations.at_lifetime`); 0 (the default): the chemistry's lifetime.
    """

    truncation_km: float = 150.0
    lateral_sigmas: float = 4.0
    min_upwind_fetch_km: float | None = None
    plume_depth_m: float = 500.0
    sample_cells: int = 2
    source_subcells: int = 3
    source_subcells_near_km: float = 15.0
    superobservation_km: float = 9.0
    representativeness_rel: float = 0.1
    amf_error_rel: float = 0.15
    amf_correlation_km: float = 50.0
    amf_correlation_shape: Literal["exponential", "gaussian"] = "exponential"
    scale_error_rel: float = 0.0
    wind_speed_error_rel: float = 0.0
    wind_speed_shape: bool = False
    wind_speed_shape_correlation: Literal["tapered", "overpass"] = "tapered"
    lifetime_error_rel: float = 0.0
    wind_direction_error_deg: float = 0.0
    wind_direction_fit: bool = False
    wind_direction_fit_prior: Literal["pointwise", "overpass_mean"] = "pointwise"
    wind_direction_fit_tile_km: float | None = None
    shape_localisation_km: float = 100.0
    quadrature_nodes: int = 3
    expected_plume: bool = False
    mixing_height_error_rel: float = 0.0
    auxiliary_sampling: Literal["full", "coarse"] = "full"
    min_superobservations: int = 4
    stack_pixels_km: float = 0.0
    lifetime_h: float | None = None
    no2_ratio: float | None = None
    photostationary_no2: bool = False
    plume_wind_m_s: tuple[float, float] | None = None
    lifetime_reference: float = 0.0

    def __post_init__(self) -> None:
        if not self.truncation_km >= 150.0:
            raise ConfigError(
                f"column truncation_km = {self.truncation_km!r}: columns need at least 150 km "
                "(a city's column plume is visible that far)"
            )
        checks = {
            "lateral_sigmas": self.lateral_sigmas >= 3.0,
            "plume_depth_m": self.plume_depth_m > 0,
            "sample_cells": int(self.sample_cells) >= 1,
            "source_subcells": int(self.source_subcells) >= 1,
            "source_subcells_near_km": self.source_subcells_near_km >= 0,
            "superobservation_km": self.superobservation_km > 0,
            "stack_pixels_km": self.stack_pixels_km >= 0,
            "representativeness_rel": self.representativeness_rel >= 0,
            "amf_error_rel": self.amf_error_rel >= 0,
            "amf_correlation_km": self.amf_correlation_km > 0,
            "scale_error_rel": 0 <= self.scale_error_rel < 10,
            "wind_speed_error_rel": 0 <= self.wind_speed_error_rel < 1,
            "lifetime_error_rel": 0 <= self.lifetime_error_rel < 1,
            "mixing_height_error_rel": 0 <= self.mixing_height_error_rel < 1,
            "wind_direction_error_deg": 0 <= self.wind_direction_error_deg <= 90,
            "shape_localisation_km": self.shape_localisation_km > 0,
            "quadrature_nodes": 2 <= int(self.quadrature_nodes) <= 15,
            "min_superobservations": int(self.min_superobservations) >= 4,
            "wind_direction_fit_prior": self.wind_direction_fit_prior
            in ("pointwise", "overpass_mean"),
            "wind_speed_shape_correlation": self.wind_speed_shape_correlation
            in ("tapered", "overpass"),
            "amf_correlation_shape": self.amf_correlation_shape in AMF_CORRELATION_SHAPES,
            "wind_direction_fit_tile_km": self.wind_direction_fit_tile_km is None
            or self.wind_direction_fit_tile_km > 0,
            "auxiliary_sampling": self.auxiliary_sampling in ("full", "coarse")
            and not (self.expected_plume and self.auxiliary_sampling == "coarse"),
            "min_upwind_fetch_km": self.min_upwind_fetch_km is None
            or self.min_upwind_fetch_km >= 0,
            "lifetime_h": self.lifetime_h is None or self.lifetime_h > 0,
            "no2_ratio": self.no2_ratio is None or 0 < self.no2_ratio <= 1,
            "plume_wind_m_s": self.plume_wind_m_s is None or _is_wind(self.plume_wind_m_s),
            "lifetime_reference": -1.0 < self.lifetime_reference < 10.0,
        }
        if self.wind_direction_fit_tile_km is not None and not self.wind_direction_fit:
            raise ConfigError(
                "column setting wind_direction_fit_tile_km = "
                f"{self.wind_direction_fit_tile_km!r} sets the tiles of the fitted turn: it "
                "needs wind_direction_fit = True"
            )
        if self.wind_speed_shape and not self.wind_speed_error_rel > 0:
            raise ConfigError(
                "column setting wind_speed_shape = True needs wind_speed_error_rel > 0 (the "
                "log-sd of the wind-speed factor whose nodes it recomputes the plumes at)"
            )
        if self.wind_speed_shape_correlation != "tapered" and not self.wind_speed_shape:
            raise ConfigError(
                "column setting wind_speed_shape_correlation = "
                f"{self.wind_speed_shape_correlation!r} sets the correlation of the wind-speed "
                "nodes' term: it needs wind_speed_shape = True"
            )
        if self.wind_direction_fit and not self.wind_direction_error_deg > 0:
            raise ConfigError(
                "column setting wind_direction_fit = True needs wind_direction_error_deg > 0 "
                "(the prior σ of the fitted turn)"
            )
        if self.expected_plume and not self.wind_direction_error_deg > 0:
            raise ConfigError(
                "column setting expected_plume = True needs wind_direction_error_deg > 0 (the "
                "expected plume is the mean over the direction nodes)"
            )
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(
                    f"column setting {name} = {getattr(self, name)!r} is out of range"
                )


@dataclass(frozen=True, eq=False)
class SuperobservationPixels:
    """The pixels behind the superobservations of a match.

    Attributes
    ----------
    pixels : int array ``(n_used,)``
        Indices (into the column's pixels) of the pixels used.
    order : int array ``(n_used,)``
        Positions in ``pixels``, grouped by superobservation (the rows' order).
    counts : int array ``(n_superobs,)``
        Pixels per superobservation.
    weight : array ``(n_used,)``
        Each used pixel's weight in its superobservation (1 / its count).
    hours : int array ``(n_superobs,)``
        Each superobservation's hour (index of the system's hours).
    """

    pixels: np.ndarray
    order: np.ndarray
    counts: np.ndarray
    weight: np.ndarray
    hours: np.ndarray

    @property
    def groups(self) -> list[np.ndarray]:
        """Positions in ``pixels`` of each superobservation's pixels."""
        return np.split(self.order, np.cumsum(self.counts)[:-1])


@dataclass(frozen=True, eq=False)
class ColumnMatch:
    """Column pixels matched to an observation system.

    Attributes
    ----------
    superobs : DataFrame
        One row per superobservation: ``overpass``, ``x``, ``y`` (m), ``lon``, ``lat``,
        ``time`` (overpass hour, UTC), ``pixel_time`` (mean time of its pixels, UTC), ``hour``,
        ``n_pixels``, ``observed``, ``prior`` (modelled column at the prior, no background;
        with a ``lifetime_reference`` c₀ ≠ 0 the linearised model's value at the prior state,
        ``H(c₀) x_b − m c₀``), ``sigma_retrieval``, ``sigma_representativeness``,
        ``sigma_amf`` and, with ``scale_error_rel`` > 0, ``sigma_scale`` (σ_s |prior|); with
        ``wind_direction_error_deg`` > 0 ``sigma_shape`` (the plume-shape σ), ``prior_central``
        and ``prior_nodes_mean`` (the central plume's and the direction nodes' mean modelled
        column at the prior; both of coarse operators with ``auxiliary_sampling``
        'coarse'); with ``mixing_height_error_rel`` > 0 ``sigma_mixing_height``; with
        ``wind_direction_fit`` ``wind_turn_deg`` (the overpass's fitted turn, degrees).
    H : sparse ``(n_superobs, n_state)``
        Jacobian of the modelled superobservations.
    footprints : Footprints
        Their sensitivities to each cell and point source per kg h-1 (observation units), the
        rows' hours in ``footprints.receptors.hour``: the operator's own winds, never turned
        by ``wind_direction_fit`` (an OSSE's truth is made with them).
    blocks : list of ``(idx, T)``
        Per used overpass, in the order of the assimilated rows: its superobservations (rows
        of ``superobs`` and H) and its whitening and plane projection ``T`` (dense,
        ``(len(idx) − 3, len(idx))``).
    covariance : dict
        Overpass label → error covariance of its superobservations (used overpasses).
    rows : DataFrame
        The assimilated rows (:meth:`ColumnObservations.assimilated`).
    counts : dict
        Pixels given, outside the period, outside the grid, too near the upwind edge, used;
        superobservations and overpasses used and dropped.
    members : SuperobservationPixels, optional
        Which pixels each superobservation averages, with what weight (None: no pixel used).
    """

    superobs: pd.DataFrame
    H: sp.csr_matrix
    footprints: Footprints
    blocks: list[tuple[np.ndarray, np.ndarray]]
    covariance: dict
    rows: pd.DataFrame
    counts: dict
    members: SuperobservationPixels | None = None

    @property
    def transform(self) -> sp.csr_matrix:
        """Whitening and plane projection, ``(m, n_superobs)``, block-diagonal by overpass."""
        n_so = len(self.superobs)
        if not self.blocks:
            return sp.csr_matrix((0, n_so))
        order = np.concatenate([idx for idx, _ in self.blocks])
        tr = sp.block_diag([T for _, T in self.blocks], format="csr")
        return tr @ sp.csr_matrix(
            (np.ones(order.size), (np.arange(order.size), order)), shape=(order.size, n_so)
        )

    @property
    def jacobian(self) -> sp.csr_matrix:
        """``T H`` materialised, ``(m, n_state)``: each row is dense over the footprints of its
        overpass (the inversion uses :meth:`jacobian_operator`)."""
        return (self.transform @ self.H).tocsr()

    def jacobian_operator(self) -> BlockRowJacobian:
        """``T H`` as its factors: the rows of H of each used overpass and its dense ``T``."""
        if not self.blocks:
            return BlockRowJacobian(sp.csr_matrix((0, self.H.shape[1])), [])
        order = np.concatenate([idx for idx, _ in self.blocks])
        segments, start = [], 0
        for idx, T in self.blocks:
            segments.append((start, start + idx.size, T))
            start += idx.size
        H = self.H[order]
        H.eliminate_zeros()  # cells without emissions: stored zeros of the footprints
        return BlockRowJacobian(H, segments)


def layer_heights(pressure_edges: np.ndarray, temperature_k: np.ndarray) -> np.ndarray:
    """Heights of layer edges above the first edge, m: ``(R_d T/g) ln(p_0/p)``, isothermal at
    ``temperature_k`` (per pixel); ``inf`` at zero pressure."""
    pe = np.asarray(pressure_edges, float)
    scale = R_DRY_AIR * np.asarray(temperature_k, float)[:, None] / GRAVITY
    with np.errstate(divide="ignore"):
        z = scale * np.log(pe[:, :1] / pe)
    z[:, 0] = 0.0
    return z


def dry_air_column(surface_pressure: np.ndarray, water_vapour_column: np.ndarray) -> np.ndarray:
    """Dry-air column, mol m-2: ``(p_s/g − W)/M_dry`` (the whole column's mass per area less
    its water vapour, standard gravity)."""
    return (np.asarray(surface_pressure, float) / GRAVITY - np.asarray(water_vapour_column)) / (
        M_DRY_AIR
    )


class ColumnObservations:
    """Satellite columns of one species, as an :class:`~gridcarbon.contracts.ObservationType`.

    Parameters
    ----------
    pixels : ColumnPixels
    species : Species
        The emitted species the column sees (NOx for NO2 columns, CO2 for XCO2); the reactive
        species (``chemistry.reactive_species``) is seen as NO2 after decay.
    quantity : ``"vertical_column"`` or ``"dry_air_mole_fraction"``
        mol m-2 (e.g. a tropospheric NO2 column) or ppm (XCO2).
    meteorology : MeteorologySource
        The scenario's meteorology (wind, stability, mixing height and 2 m temperature at each
        pixel's centre at its overpass hour).
    settings : ColumnSettings
    name : str
        The observation type's name in the metrics.
    """

    def __init__(
        self,
        pixels: ColumnPixels,
        species: Species,
        quantity: Quantity,
        meteorology: MeteorologySource,
        settings: ColumnSettings | None = None,
        name: str = "column",
    ) -> None:
        if quantity not in _UNITS:
            raise ConfigError(f"column quantity {quantity!r} is not one of {sorted(_UNITS)}")
        if quantity == "dry_air_mole_fraction" and pixels.water_vapour_column is None:
            raise InputDataError(
                f"{pixels.source}: a dry-air mole fraction needs water_vapour_column (kg m-2) "
                "for the dry-air column"
            )
        if species.molar_mass_g_mol is None:
            raise InputDataError(
                f"species {species.name} has no molar mass; a column of it cannot be modelled"
            )
        self.pixels = pixels
        self.species = species
        self.quantity = quantity
        self.unit = _UNITS[quantity]
        self.meteorology = meteorology
        self.settings = ColumnSettings() if settings is None else settings
        self.name = name
        self._match: tuple[weakref.ref, ColumnMatch] | None = None
        #: the prior enhancement at the candidate turns of ``wind_direction_fit``, per system
        self._turn_plumes: tuple[weakref.ref, np.ndarray] | None = None
        #: the superobservations' values put in place of the pixels' means (:meth:`with_observed`)
        self._observed: np.ndarray | None = None

    def at_lifetime(self, scale: float) -> ColumnObservations:
        """The same columns with the operator linearised at the state's lifetime scale
        ``scale`` (relative change of the chemistry's lifetime, > −1): one Gauss–Newton step of
        ``state.column_lifetime_iterations``; these columns themselves when already there."""
        if self.settings.lifetime_reference == scale:
            return self
        settings = replace(self.settings, lifetime_reference=float(scale))
        out = ColumnObservations(
            self.pixels, self.species, self.quantity, self.meteorology, settings, self.name
        )
        # the observed values do not depend on where the operator is linearised
        out._observed = self._observed
        return out

    def with_observed(self, system: ObservationSystem, observed: np.ndarray) -> ColumnObservations:
        """The same columns matched to ``system`` with each superobservation's value replaced
        by ``observed`` (one per row of ``match(system).superobs``, observation units): the
        superobservations, their error covariances and H stay those of the pixels; the
        assimilated rows are whitened anew.  For diagnostics that hand the inversion columns
        made otherwise (e.g. ``osse.satellite_columns: operator``).  With
        ``wind_direction_fit`` the turns are fitted to these values instead, so H and the
        covariances are built anew with them (the candidate plumes are not)."""
        observed = np.asarray(observed, float)
        replaced = _with_observed(self.match(system), observed, self.name)
        out = ColumnObservations(
            self.pixels, self.species, self.quantity, self.meteorology, self.settings, self.name
        )
        out._observed = observed
        if self.settings.wind_direction_fit:
            out._turn_plumes = self._turn_plumes
        else:
            out._match = (weakref.ref(system.operators_of), replaced)
        return out

    def with_amf_error(
        self,
        system: ObservationSystem,
        amf_error_rel: float,
        amf_correlation_km: float,
        amf_correlation_shape: str,
    ) -> ColumnObservations:
        """The same columns matched to ``system`` with another air-mass-factor error in each
        overpass's R (:func:`retrieval_covariance`): C's AMF term ``σ_i σ_j ρ(d)`` is swapped
        for the new one (σ in proportion to ``amf_error_rel``) and the rows are whitened anew;
        H, the superobservations and every other term of C stay — the wind turns of
        ``wind_direction_fit`` too, fitted under the old C.  A rebuilt match (another system,
        a new lifetime reference) takes the new settings from the start.

        Parameters
        ----------
        system : ObservationSystem
        amf_error_rel : float
            1-σ AMF error as a fraction of the column (≥ 0).
        amf_correlation_km : float
            Its correlation length, km.
        amf_correlation_shape : {'exponential', 'gaussian'}
        """
        s = self.settings
        settings = replace(
            s,
            amf_error_rel=float(amf_error_rel),
            amf_correlation_km=float(amf_correlation_km),
            amf_correlation_shape=amf_correlation_shape,
        )
        m = self.match(system)
        if s.amf_error_rel == 0 and amf_error_rel > 0 and m.blocks:
            raise ConfigError(
                f"{self.name}: its columns were matched with amf_error_rel = 0, so their AMF "
                "error has no scale to start from; match them with amf_error_rel > 0"
            )
        ratio = amf_error_rel / s.amf_error_rel if s.amf_error_rel > 0 else 0.0
        table = m.superobs.copy()
        x, y = table["x"].to_numpy(float), table["y"].to_numpy(float)
        sigma = table["sigma_amf"].to_numpy(float)
        observed, prior = table["observed"].to_numpy(float), table["prior"].to_numpy(float)
        blocks, covariances, observed_rows, prior_rows = [], {}, [], []
        for (idx, _), (label, C) in zip(m.blocks, m.covariance.items(), strict=True):
            d = np.hypot(x[idx, None] - x[None, idx], y[idx, None] - y[None, idx])
            old = np.outer(sigma[idx], sigma[idx]) * amf_correlation(
                d, s.amf_correlation_km * 1000.0, s.amf_correlation_shape
            )
            new = (ratio**2 * np.outer(sigma[idx], sigma[idx])) * amf_correlation(
                d, settings.amf_correlation_km * 1000.0, amf_correlation_shape
            )
            covariances[label] = C - old + new
            T = _whitening_projection(covariances[label], plane_design(x[idx], y[idx]))
            blocks.append((idx, T))
            observed_rows.append(T @ observed[idx])
            prior_rows.append(T @ prior[idx])
        table["sigma_amf"] = ratio * sigma
        rows = m.rows.copy()
        if blocks:
            rows["observed"] = np.concatenate(observed_rows)
            rows["prior"] = np.concatenate(prior_rows)
        out = ColumnObservations(
            self.pixels, self.species, self.quantity, self.meteorology, settings, self.name
        )
        out._observed = self._observed
        out._turn_plumes = self._turn_plumes
        found = replace(m, superobs=table, blocks=blocks, covariance=covariances, rows=rows)
        out._match = (weakref.ref(system.operators_of), found)
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_match": None, "_turn_plumes": None}

    # -- the ObservationType members ------------------------------------------------------------
    def table(self) -> pd.DataFrame:
        """One row per pixel: ``time`` (UTC), ``species``, ``value``, ``unit``, ``uncertainty``,
        ``overpass``, ``x``, ``y`` (centre, m)."""
        x, y = self.pixels.centres()
        return pd.DataFrame(
            {
                "time": np.asarray(self.pixels.time, "datetime64[ns]"),
                "species": self.species.observed_as,
                "value": np.asarray(self.pixels.value, float),
                "unit": self.unit,
                "uncertainty": np.asarray(self.pixels.precision, float),
                "overpass": self.pixels.overpass_labels(),
                "x": x,
                "y": y,
            }
        )

    def match(self, system: ObservationSystem) -> ColumnMatch:
        """The columns matched to ``system`` (computed once per system; a view of a system
        that differs only in the stations' errors shares its match,
        :attr:`ObservationSystem.operators_of`)."""
        owner = system.operators_of
        if self._match is not None and self._match[0]() is owner:
            return self._match[1]
        found = self._build(system)
        if self._observed is not None:
            found = _with_observed(found, self._observed, self.name)
        self._match = (weakref.ref(owner), found)
        return found

    def assimilated(self, system: ObservationSystem) -> pd.DataFrame:
        """One row per assimilated contrast: ``station_id`` (``<name>:<overpass>``),
        ``species``, ``kind`` (``column contrast``), ``time``, ``lon``, ``lat`` (the overpass's
        mean), ``observed`` and ``prior`` — whitened, background-free combinations of the
        superobservations of an overpass (dimensionless, unit error)."""
        return self.match(system).rows

    def jacobian_block(self, system: ObservationSystem) -> sp.csr_matrix:
        """``T H``: the whitened, plane-projected rows of H (materialised; see
        :meth:`jacobian_operator`)."""
        return self.match(system).jacobian

    def jacobian_operator(self, system: ObservationSystem) -> BlockRowJacobian:
        """:meth:`jacobian_block` kept as its factors, the sparse rows of H and each
        overpass's dense ``T``: what the inversion applies (a row of ``T H`` is dense over the
        footprints of its overpass)."""
        return self.match(system).jacobian_operator()

    def error_variance(self, system: ObservationSystem) -> np.ndarray:
        """Ones: the column errors are whitened into the rows."""
        return np.ones(len(self.match(system).rows))

    # -- beyond the protocol --------------------------------------------------------------------
    def modelled(
        self,
        system: ObservationSystem,
        area: np.ndarray,
        points: np.ndarray | None = None,
        neighbour_factors: np.ndarray | None = None,
        biogenic_factors: np.ndarray | None = None,
        footprints: Footprints | None = None,
    ) -> np.ndarray:
        """The operator's column enhancement of every superobservation (observation units, no
        background) for given emissions, through its footprints: what ``H x`` gives when the
        emissions are those of a state, for emissions that need not be one.

        Parameters
        ----------
        area : array ``(nt, ncell)``
            Area-source emissions of the columns' species, kg h-1 per cell (flat, C order), at
            the system's hours.
        points : array ``(nt, npoint)``, optional
            Point-source emissions, kg h-1, of the system's point sources.
        neighbour_factors : array ``(n_neighbours,)``, optional
            Factors on the neighbouring provinces' inflow (``system.neighbour_used``); None:
            no inflow.
        biogenic_factors : array ``(ndays,)``, optional
            Factors on the biogenic flux per Beijing day; None: no biogenic flux.
        footprints : Footprints, optional
            Footprints of the superobservations other than the match's own, e.g. of
            :meth:`perturbed_footprints`.
        """
        fp = self.match(system).footprints if footprints is None else footprints
        name = self.species.name
        reactive = name == system.config.chemistry.reactive_species
        has_points = points is not None and fp.npoint and np.asarray(points).shape[-1]
        out = forward(fp, area, points if has_points else None, nox=reactive)
        hrs = fp.receptors.hour
        if neighbour_factors is not None:
            for j, pj in enumerate(system.neighbour_used):
                out += (
                    neighbour_factors[j]
                    * row_dot(fp, system.neighbour_W[pj], nox=reactive)
                    * system.neighbour_density[name][hrs]
                )
        if biogenic_factors is not None and name in system.bio and not reactive:
            days = _beijing_day(system, hrs)
            out += np.asarray(biogenic_factors, float)[days] * forward(fp, system.bio[name])
        return out

    def pixels_used(self, system: ObservationSystem) -> pd.DataFrame:
        """The pixels the superobservations of the match with ``system`` average, in the order
        :meth:`perturbed_footprints` takes them: ``pixel`` (index into the pixels), ``x``,
        ``y`` (centre, m, the grid's projection), ``hour`` (index of the system's hours: its
        superobservation's hour) and ``superobservation`` (row of ``match(system).superobs``)."""
        mem = self.match(system).members
        if mem is None:
            return pd.DataFrame(
                {k: np.zeros(0, t) for k, t in (("pixel", np.int64), ("x", float), ("y", float))}
                | {"hour": np.zeros(0, np.int64), "superobservation": np.zeros(0, np.int64)}
            )
        row = np.empty(mem.pixels.size, np.int64)
        row[mem.order] = np.repeat(np.arange(mem.counts.size), mem.counts)
        xc, yc = self.pixels.centres()
        return pd.DataFrame(
            {
                "pixel": mem.pixels,
                "x": xc[mem.pixels],
                "y": yc[mem.pixels],
                "hour": mem.hours[row],
                "superobservation": row,
            }
        )

    def perturbed_footprints(
        self,
        system: ObservationSystem,
        *,
        wind_turn_deg: np.ndarray,
        wind_speed_factor: np.ndarray,
        mixing_height_factor: np.ndarray,
        lifetime_factor: float = 1.0,
    ) -> Footprints:
        """The footprints of the match's superobservations — the same pixels, weights and
        sampling — with the operator's met at each used pixel perturbed: for an OSSE whose
        truth's columns see other winds and mixing heights than the model's (a diagnostic).

        Parameters
        ----------
        wind_turn_deg : array ``(n_used,)``
            Added to the direction each used pixel's wind blows from, degrees (clockwise seen
            from above); pixels as :meth:`pixels_used`.
        wind_speed_factor : array ``(n_used,)``
            The 10 m wind speed times this (dimensionless, > 0; the calm floor,
            ``transport.calm_floor_m_s``, still applies); the Turner stability class is
            recomputed from the new speed, as the surface OSSE's perturbed met does.
        mixing_height_factor : array ``(n_used,)``
            The mixing height times this (dimensionless, > 0).
        lifetime_factor : float
            The reactive species' lifetime times this.

        Returns
        -------
        Footprints
            For :meth:`modelled` (``footprints=``); the match's own when no pixel is used.
        """
        m = self.match(system)
        if m.members is None:
            return m.footprints
        p = m.members.pixels
        arrays = {
            "wind_turn_deg": wind_turn_deg,
            "wind_speed_factor": wind_speed_factor,
            "mixing_height_factor": mixing_height_factor,
        }
        arrays = {k: np.broadcast_to(np.asarray(v, float), p.shape) for k, v in arrays.items()}
        for name, v in arrays.items():
            bad = np.flatnonzero(~np.isfinite(v) | ((name != "wind_turn_deg") & ~(v > 0)))
            if bad.size:
                raise ConfigError(
                    f"{self.name}: {name} = {v[bad[0]]!r} at used pixel {bad[0]} ({bad.size} "
                    "such); give finite values, and factors > 0"
                )
        if not lifetime_factor > 0:
            raise ConfigError(f"{self.name}: lifetime_factor {lifetime_factor!r} must be > 0")
        met = {k: v.copy() for k, v in self._met.items()}
        th = np.radians(arrays["wind_turn_deg"])
        # (ex, ey) points downwind; turning the wind's source by t turns it likewise (_operator)
        ex, ey = met["ex"][p], met["ey"][p]
        met["ex"][p] = np.cos(th) * ex + np.sin(th) * ey
        met["ey"][p] = np.cos(th) * ey - np.sin(th) * ex
        _scale_wind_speed(met, arrays["wind_speed_factor"], system.config.transport, p)
        met["zi"][p] = met["zi"][p] * arrays["mixing_height_factor"]
        met["tau"][p] = met["tau"][p] * float(lifetime_factor)
        mem = m.members
        return self._operator(system, mem.groups, mem.weight, mem.hours, p, pixel_met=met)[1]

    def superobservations(
        self, system: ObservationSystem, x_increment: np.ndarray | None = None
    ) -> pd.DataFrame:
        """The superobservations with their fit: ``posterior`` (modelled column at
        ``x_prior + x_increment``) and ``background`` (the generalised-least-squares plane of the
        overpass fitted to observed − posterior) when ``x_increment`` is given."""
        m = self.match(system)
        table = m.superobs.copy()
        if x_increment is None:
            return table
        post = table["prior"].to_numpy() + m.H @ np.asarray(x_increment, float)
        background = np.full(len(table), np.nan)
        for label, C in m.covariance.items():
            sel = np.flatnonzero((table["overpass"] == label).to_numpy())
            X = plane_design(table["x"].to_numpy()[sel], table["y"].to_numpy()[sel])
            r = table["observed"].to_numpy()[sel] - post[sel]
            Ci_X = np.linalg.solve(C, X)
            beta = np.linalg.solve(X.T @ Ci_X, Ci_X.T @ r)
            background[sel] = X @ beta
        return table.assign(posterior=post, background=background)

    def overpass_fit(
        self,
        system: ObservationSystem,
        x_increment: np.ndarray,
        covariance: PosteriorCovariance | None = None,
        r_factor: dict[str, float] | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The fit of the assimilated overpasses at ``x_prior + x_increment``: one row per
        superobservation and one per overpass
        (:func:`gridcarbon.inversion.column_fit.overpass_fit_tables`).

        With the wind-speed term as two scales (``wind_speed_error_rel`` > 0, not
        ``wind_speed_shape``) each overpass also gets the posterior of its urban and rural
        scales; ``covariance`` (the state's posterior covariance) adds the emissions' uncertainty to their σ, and ``r_factor`` (overpass
        label → the factor applied to its R, e.g. Desroziers') scales their own."""
        from gridcarbon.inversion.column_fit import overpass_fit_tables

        m = self.match(system)
        table = m.superobs if len(m.superobs) == 0 else self.superobservations(system, x_increment)
        size = self.settings.superobservation_km * 1000.0
        g = system.grid
        s = self.settings
        scale_sd = s.wind_speed_error_rel if not s.wind_speed_shape else 0.0
        emission_variance = None
        if covariance is not None and scale_sd > 0:

            def emission_variance(label: str, idx: np.ndarray, G: np.ndarray) -> np.ndarray:
                # rows G H_idx of the state: the scales' estimate as a function of x̂
                return covariance.aggregate_var(sp.csr_matrix((m.H[idx].T @ G.T).T))

        return overpass_fit_tables(
            table,
            m.covariance,
            observation_type=self.name,
            product=self.pixels.product,
            species=self.species.observed_as,
            unit=self.unit,
            box=(g.x_min, g.y_max, size),
            unproject=g.unproject,
            transport_scale_sd=scale_sd,
            r_factor=r_factor,
            emission_variance=emission_variance,
        )

    def alternative_rows(
        self, system: ObservationSystem, settings: ColumnSettings
    ) -> pd.DataFrame | None:
        """The rows that tell whether these columns hold what another operator — these pixels
        with the column settings ``settings`` — adds to the modelled columns, with no truth:
        each assimilated row (whitened, free of its overpass's plane) gets ``enhancement``
        (the prior modelled column ``m``), ``difference`` (the other operator's less it,
        ``Δ``), ``innovation`` (observed less ``m``) and ``overpass``
        (``<name>:<overpass>``), for :func:`gridcarbon.inversion.column_fit.innovation_evidence`
        pooled over observation types (one per file).  ``attrs`` holds ``quantity`` and
        ``prior_sum`` and ``difference_sum``, the sums of ``m`` and ``Δ`` over the used
        superobservations before the planes (observation units).

        None with no used overpass.
        """
        found = self.match(system)
        if not found.blocks:
            return None
        other = ColumnObservations(
            self.pixels, self.species, self.quantity, self.meteorology, settings, self.name
        )
        other._observed = self._observed
        alternative = other.match(system).superobs
        if not np.array_equal(alternative["observed"], found.superobs["observed"]):
            raise ConfigError(
                f"{self.name}: the other column settings use other pixels or superobservations "
                "than these; the innovations can only be compared on the same ones"
            )
        prior = found.superobs["prior"].to_numpy(float)
        difference = alternative["prior"].to_numpy(float) - prior
        innovation = found.superobs["observed"].to_numpy(float) - prior
        labels = found.superobs["overpass"].astype(str).to_numpy()
        # a block is one overpass; its rows are T's (len(idx) − 3) plane-free contrasts
        rows = pd.concat(
            [
                pd.DataFrame(
                    {
                        "enhancement": T @ prior[idx],
                        "difference": T @ difference[idx],
                        "innovation": T @ innovation[idx],
                        "overpass": f"{self.name}:{labels[idx[0]]}",
                    }
                )
                for idx, T in found.blocks
            ],
            ignore_index=True,
        )
        used = np.concatenate([idx for idx, _ in found.blocks])
        rows.attrs.update(
            quantity=self.quantity,
            prior_sum=float(prior[used].sum()),
            difference_sum=float(difference[used].sum()),
        )
        return rows

    def conversion_rows(self, system: ObservationSystem) -> pd.DataFrame | None:
        """:meth:`alternative_rows` of the other NO2/NOx conversion of the plumes
        (``inversion.columns.no2_conversion_check``), ``attrs["in_use"]`` and
        ``attrs["other"]`` naming the conversions (``"ramp"``, ``"photostationary"``),
        ``attrs["observed"]`` and ``attrs["emitted"]`` the species seen and emitted.  None
        for columns of an inert species, with a handed ratio (``no2_ratio``) or with no used
        overpass."""
        s = self.settings
        if self.species.name != system.config.chemistry.reactive_species or s.no2_ratio is not None:
            return None
        rows = self.alternative_rows(
            system, replace(s, photostationary_no2=not s.photostationary_no2)
        )
        if rows is not None:
            names = ("ramp", "photostationary")
            rows.attrs.update(
                in_use=names[s.photostationary_no2],
                other=names[not s.photostationary_no2],
                observed=self.species.observed_as,
                emitted=self.species.name,
            )
        return rows

    def truncation_rows(self, system: ObservationSystem, longer_km: float) -> pd.DataFrame | None:
        """:meth:`alternative_rows` of the operator that follows the plumes ``longer_km``
        downwind instead of ``truncation_km`` (``inversion.columns.truncation_check``), on the
        same pixels (the upwind fetch kept); ``attrs["truncation_km"]`` and
        ``attrs["longer_km"]`` the two.  None with no used overpass."""
        s = self.settings
        if not longer_km > s.truncation_km:
            raise ConfigError(
                f"the truncation check's longer truncation ({longer_km!r} km) must exceed the "
                f"operator's truncation_km ({s.truncation_km!r} km)"
            )
        fetch = s.truncation_km if s.min_upwind_fetch_km is None else s.min_upwind_fetch_km
        rows = self.alternative_rows(
            system, replace(s, truncation_km=float(longer_km), min_upwind_fetch_km=fetch)
        )
        if rows is not None:
            rows.attrs.update(truncation_km=s.truncation_km, longer_km=float(longer_km))
        return rows

    def lifetime_rows(self, system: ObservationSystem, factor: float) -> pd.DataFrame | None:
        """:meth:`alternative_rows` of the operator whose plumes of the reactive species decay
        with ``factor`` × the lifetime in use (``inversion.columns.lifetime_check_factor``), on
        the same pixels — in the plumes' decay ``exp(−x / (ū τ))`` the same as ``factor`` × the
        decay length ``ū τ`` (the ramp's NO2/NOx, a function of ``x / ū``, aside);
        ``attrs["factor"]`` the factor.  None for columns of an
        inert species or with no used overpass.

        The state's lifetime scale must not be in the state: with it the rows carry the model
        linearised at its reference, which another reference would not tell apart.
        """
        if self.species.name != system.config.chemistry.reactive_species:
            return None
        if not (factor > 0 and factor != 1):
            raise ConfigError(
                f"the lifetime check's factor ({factor!r}) must be positive and not 1: the "
                "check compares the operator with one whose lifetime differs"
            )
        if "lifetime_scale" in system.layout.column_terms:
            raise ConfigError(
                "the lifetime check compares two fixed lifetimes, but the state estimates the "
                "lifetime (state.column_transport_unknowns with 'lifetime_scale'): its "
                "posterior, column_lifetime_scale, is the answer; drop one of the two"
            )
        s = self.settings
        # the lifetime is τ (1 + c₀): another factor is another reference, built in full
        rows = self.alternative_rows(
            system, replace(s, lifetime_reference=(1.0 + s.lifetime_reference) * factor - 1.0)
        )
        if rows is not None:
            rows.attrs.update(factor=float(factor))
        return rows

    def pixel_operator(self, system: ObservationSystem) -> tuple[pd.DataFrame, sp.csr_matrix]:
        """The operator of single pixels (no averaging, no background): one row per pixel used,
        ``pixel`` (index into the pixels), ``overpass``, ``hour``, and H of their modelled
        columns — for simulated retrievals and tests."""
        sel, labels, hours = self._usable(system)
        groups = [np.array([i]) for i in range(sel.size)]
        H, _ = self._operator(system, groups, np.ones(sel.size), hours[sel], sel)
        table = pd.DataFrame({"pixel": sel, "overpass": labels[sel], "hour": hours[sel]})
        return table, H

    # -- building -------------------------------------------------------------------------------
    def _usable(self, system: ObservationSystem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pixels inside the period and the grid and far enough from its upwind edge; their
        overpass labels and hours (one per overpass: the time step holding its mean time)."""
        px = self.pixels
        g = system.grid
        labels = px.overpass_labels()
        t = np.asarray(px.time, "datetime64[ns]")
        t0 = system.times.values[0]
        hours = np.full(px.n, -1, np.int64)
        for label in np.unique(labels):
            m = labels == label
            mean = t0 + np.mean((t[m] - t0).astype(np.int64)).astype("timedelta64[ns]")
            # the time step whose hour holds the overpass's mean time
            h = int(np.floor((mean - t0) / np.timedelta64(1, "h")))
            if 0 <= h < system.nt:
                hours[m] = h
        in_period = hours >= 0
        x0, y0, x1, y1 = g.bounds
        cx, cy = np.asarray(px.corner_x), np.asarray(px.corner_y)
        inside = (cx.min(1) >= x0) & (cx.max(1) <= x1) & (cy.min(1) >= y0) & (cy.max(1) <= y1)
        self._counts = {
            "n_pixels": px.n,
            "n_outside_period": int((~in_period).sum()),
            "n_outside_grid": int((in_period & ~inside).sum()),
        }
        sel = np.flatnonzero(in_period & inside)
        self._met = self._pixel_met(system, sel, hours)
        fetch_km = self.settings.min_upwind_fetch_km
        fetch = (self.settings.truncation_km if fetch_km is None else fetch_km) * 1000.0
        xc, yc = px.centres()
        met = self._met
        upwind = _distance_to_edge(xc[sel], yc[sel], -met["ex"][sel], -met["ey"][sel], g.bounds)
        near = upwind < fetch
        self._counts["n_near_upwind_edge"] = int(near.sum())
        sel = sel[~near]
        self._counts["n_pixels_used"] = int(sel.size)
        if sel.size == 0:
            log.info("%s: none of %d pixels is usable (%s)", self.name, px.n, self._counts)
        return sel, labels, hours

    def _pixel_met(self, system: ObservationSystem, sel: np.ndarray, hours: np.ndarray) -> dict:
        """Met at each selected pixel's centre at its overpass hour (NaN elsewhere)."""
        n = self.pixels.n
        keys = ("u10", "ex", "ey", "zi", "tau", "t2m", "speed", "sun_elevation", "cloud")
        out = {k: np.full(n, np.nan) for k in keys}
        out["k"] = np.zeros(n, np.int64)
        out["uplume"] = np.zeros(n)  # 0: the plume-depth wind of the ISC3 profile
        xc, yc = self.pixels.centres()
        cfg = system.config
        if sel.size == 0:
            return out
        # the whole period, as the surface operator interpolates it (in time, too), once per
        # system and source for all overpasses; each hour interpolated from its neighbours
        met = _period_met(system, self.meteorology)
        met_times = met["time"].values
        for h in np.unique(hours[sel]):
            idx = sel[hours[sel] == h]
            hour = pd.DatetimeIndex([system.times[h]])
            lon, lat = system.grid.unproject(xc[idx], yc[idx])
            i = int(np.searchsorted(met_times, hour.values[0]))
            pm = met_at_points(met.isel(time=slice(max(i - 1, 0), i + 2)), hour, lon, lat)
            th = np.radians(pm.direction_from[0])
            out["u10"][idx] = np.maximum(pm.speed[0], cfg.transport.calm_floor_m_s)
            out["ex"][idx] = -np.sin(th)
            out["ey"][idx] = -np.cos(th)
            out["k"][idx] = pm.stability[0].astype(np.int64)
            out["zi"][idx] = pm.blh[0]
            out["t2m"][idx] = pm.t2m[0]
            # kept for a stability class of a perturbed wind (:meth:`perturbed_footprints`)
            out["speed"][idx] = pm.speed[0]
            out["sun_elevation"][idx] = pm.sun_elevation[0]
            out["cloud"][idx] = pm.cloud[0]
            out["tau"][idx] = (
                nox_lifetime_s(
                    cfg.chemistry, np.repeat(hour.values, idx.size), pm.sun_elevation[0] > 0
                )
                if self.settings.lifetime_h is None
                else self.settings.lifetime_h * 3600.0
            )
        if self.settings.plume_wind_m_s is not None:
            u, v = self.settings.plume_wind_m_s
            speed = float(np.hypot(u, v))
            out["ex"][sel], out["ey"][sel] = u / speed, v / speed
            out["uplume"][sel] = speed
        bad = sel[~np.isfinite(out["u10"][sel] + out["zi"][sel] + out["t2m"][sel])]
        if bad.size:
            raise InputDataError(
                f"{self.pixels.source}: the meteorology has no wind, mixing height or 2 m "
                f"temperature at {bad.size} pixel(s) (first: pixel {bad[0]} at "
                f"{np.asarray(self.pixels.time)[bad[0]]}); give met covering the pixels"
            )
        return out

    def _conversion(self, sel: np.ndarray) -> np.ndarray:
        """Observation units per µg m-2 of each pixel."""
        mol = 1e-6 / self.species.molar_mass_g_mol  # µg → mol
        if self.quantity == "vertical_column":
            return np.full(sel.size, mol)
        px = self.pixels
        n_dry = dry_air_column(
            np.asarray(px.surface_pressure)[sel], np.asarray(px.water_vapour_column)[sel]
        )
        return mol / n_dry * 1e6

    def _operator(
        self,
        system: ObservationSystem,
        groups: list[np.ndarray],
        pixel_weight: np.ndarray,
        row_hours: np.ndarray,
        sel: np.ndarray,
        zscale: float = 1.0,
        tscale: float = 1.0,
        turn_rad: float | np.ndarray = 0.0,
        auxiliary: bool = False,
        tables: dict | None = None,
        pixel_met: dict[str, np.ndarray] | None = None,
        speed_scale: float = 1.0,
    ) -> tuple[sp.csr_matrix, Footprints]:
        """H of rows that are weighted means of pixels: ``groups`` index ``sel`` (the pixels
        used), ``pixel_weight`` is the weight of each pixel of ``sel`` in its row; the mixing
        height scaled by ``zscale``, the NOx lifetime by ``tscale``, every wind turned by
        ``turn_rad`` (radians, clockwise seen from above: the direction it blows from grows);
        ``auxiliary``: an operator built for an error term or a slope, sampled as
        ``auxiliary_sampling`` says (``turn_rad`` may also be one angle per pixel of ``sel``);
        ``tables``: the area sources' vertical tables of the
        builds of one match by ``zscale`` and ``speed_scale`` (they do not depend on the
        wind's direction, the lifetime or the sampling), filled and reused; ``pixel_met``:
        every pixel's met in place of the columns' own (arrays like :meth:`_pixel_met`'s; give
        no ``tables``); ``speed_scale``: every pixel's wind speed times this, its Turner class
        recomputed (:func:`_scale_wind_speed`)."""
        s = self.settings
        coarse = auxiliary and s.auxiliary_sampling == "coarse"
        sample_cells = 1 if coarse else int(s.sample_cells)
        source_subcells = 1 if coarse else int(s.source_subcells)
        cfg = system.config
        g = system.grid
        px = self.pixels
        met = {k: v[sel] for k, v in (self._met if pixel_met is None else pixel_met).items()}
        if speed_scale != 1.0:
            _scale_wind_speed(met, speed_scale, cfg.transport)
        turn = np.asarray(turn_rad, float)
        if turn.any():
            # (ex, ey) points downwind, (−sin θ, −cos θ) for a wind from θ: θ + t turns it
            c, s_ = np.cos(turn), np.sin(turn)
            met["ex"], met["ey"] = c * met["ex"] + s_ * met["ey"], c * met["ey"] - s_ * met["ex"]
        n = sel.size
        spacing = g.cell_size / sample_cells
        cx = np.ascontiguousarray(np.asarray(px.corner_x, float)[sel])
        cy = np.ascontiguousarray(np.asarray(px.corner_y, float)[sel])
        nc = np.full(n, cx.shape[1], np.int64)
        counts = polygon_lattice_counts(cx, cy, nc, g.x_min, g.y_max, spacing)
        ptr_cap = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=ptr_cap[1:])
        sx = np.empty(ptr_cap[-1])
        sy = np.empty(ptr_cap[-1])
        sw = np.empty(ptr_cap[-1])
        sn = np.zeros(n, np.int64)
        polygon_lattice_fill(cx, cy, nc, g.x_min, g.y_max, spacing, ptr_cap, sx, sy, sw, sn)
        # compact, and fold each pixel's weight in its row and its unit conversion in
        keep = np.arange(ptr_cap[-1]) - np.repeat(ptr_cap[:-1], counts) < np.repeat(sn, counts)
        samp_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(sn, out=samp_ptr[1:])
        owner = np.repeat(np.arange(n), counts)[keep]
        samp_x, samp_y = sx[keep], sy[keep]
        samp_w = sw[keep] * (pixel_weight * self._conversion(sel))[owner]
        xc, yc = cx.mean(axis=1), cy.mean(axis=1)
        reach = np.zeros(n)
        np.maximum.at(reach, owner, np.hypot(samp_x - xc[owner], samp_y - yc[owner]))
        reach += spacing
        # vertical tables of area sources, layers per pixel
        z = np.ascontiguousarray(layer_heights(np.asarray(px.pressure_edges)[sel], met["t2m"]))
        ak = np.ascontiguousarray(np.asarray(px.averaging_kernel, float)[sel])
        nl = np.full(n, ak.shape[1], np.int64)
        zi = met["zi"] * zscale
        rmax = s.truncation_km * 1000.0
        nodes = np.geomspace(1.0, rmax, 128)
        lid_f = cfg.transport.lid_uniform_factor
        h_src = cfg.transport.area_source_height_m
        # the Turner class, which the speed sets, enters the tables
        key = (zscale, speed_scale)
        if tables is not None and key in tables:
            tab_r, tab_u = tables[key]
        else:
            tab_r = np.zeros((n, nodes.size))
            tab_u = np.zeros((n, nodes.size))
            area_vertical_tables(met["k"], zi, h_src, lid_f, z, ak, nl, nodes, tab_r, tab_u)
            if tables is not None:
                tables[key] = (tab_r, tab_u)
        lx0 = 0.0
        dlx = float(np.log(nodes[1] / nodes[0]))
        chem = cfg.chemistry
        pts = system.points
        has_pts = system.has_points and len(pts) > 0
        pcols = ("x", "y", "height", "diameter", "velocity", "temperature")
        parr = [pts[c].to_numpy(float) if has_pts else np.zeros(0) for c in pcols]
        purban = system.urban[system.point_cells] if has_pts else np.zeros(0, np.bool_)
        npt = parr[0].size
        area_parts, point_parts = [], []
        chunk = 16
        acc = np.zeros((chunk, g.size))
        accn = np.zeros((chunk, g.size))
        pacc = np.zeros((chunk, npt))
        paccn = np.zeros((chunk, npt))
        for first in range(0, len(groups), chunk):
            part = groups[first : first + chunk]
            row_ptr = np.zeros(len(part) + 1, np.int64)
            np.cumsum([grp.size for grp in part], out=row_ptr[1:])
            for a in (acc, accn, pacc, paccn):
                a[:] = 0.0
            column_rows_fill(
                row_ptr,
                np.concatenate(part).astype(np.int64),
                samp_ptr,
                samp_x,
                samp_y,
                samp_w,
                0.5 * spacing,
                xc,
                yc,
                reach,
                met["u10"],
                met["ex"],
                met["ey"],
                met["k"],
                zi,
                met["tau"] * tscale * (1.0 + s.lifetime_reference),
                met["t2m"],
                met["uplume"],
                tab_r,
                tab_u,
                lx0,
                dlx,
                z,
                ak,
                nl,
                g.x_min,
                g.y_max,
                g.cell_size,
                g.nx,
                g.ny,
                system.urban,
                source_subcells,
                s.source_subcells_near_km * 1000.0,
                h_src,
                lid_f,
                s.plume_depth_m,
                rmax,
                s.lateral_sigmas,
                *parr,
                purban,
                float(np.radians(cfg.transport.point_plume_direction_sd_deg)),
                *_no2_ramp(s, chem),
                chem.no2_conversion_time_h * 3600.0,
                acc,
                accn,
                pacc,
                paccn,
            )
            area_parts.append(rows_nonzero(acc, accn, len(part)))
            point_parts.append(rows_nonzero(pacc, paccn, len(part)))
        nrow = len(groups)
        rec = Receptors(
            *(np.zeros(nrow) for _ in range(3)),
            np.asarray(row_hours, np.int64),
            *(np.zeros(nrow) for _ in range(3)),
            np.zeros(nrow, np.int64),
            *(np.zeros(nrow) for _ in range(3)),
        )

        fp = Footprints(
            rec,
            g.size,
            npt,
            *_stacked_rows(area_parts),
            *_stacked_rows(point_parts),
        )
        return self._jacobian(system, fp), fp

    def _jacobian(self, system: ObservationSystem, fp: Footprints) -> sp.csr_matrix:
        """Rows of H from column footprints: grid and point factors (as the surface operator),
        neighbour inflow and biogenic fluxes."""
        L = system.layout
        si = system.species.index(self.species.name)
        reactive = self.species.name == system.config.chemistry.reactive_species
        nrow = fp.receptors.n
        rows_ = np.arange(nrow, dtype=np.int64)
        ln = np.diff(fp.area_ptr) + np.diff(fp.pt_ptr)
        offs = np.zeros(nrow + 1, np.int64)
        np.cumsum(ln, out=offs[1:])
        o_row = np.empty(offs[-1], np.int64)
        o_col = np.empty(offs[-1], np.int64)
        o_val = np.empty(offs[-1], np.float64)
        npt = len(system.points)
        point_big = np.full(npt, -1, np.int64)
        point_big[L.point_index] = np.arange(L.point_index.size)
        cell_block = L.cell_block()
        point_block = cell_block[system.point_cells] if npt else np.zeros(0, np.int64)
        jacobian_fill(
            rows_,
            np.full(nrow, si, np.int64),
            np.full(nrow, reactive),
            np.ones(nrow),
            fp.area_ptr,
            fp.area_idx,
            fp.area_val,
            fp.area_nox,
            fp.pt_ptr,
            fp.pt_idx,
            fp.pt_val,
            fp.pt_nox,
            fp.receptors.hour,
            system.E,
            system.Ep,
            cell_block,
            L.hour_window(),
            point_big,
            point_block,
            L.segments["grid"].start,
            L.segments["points"].start,
            L.nw,
            L.nby * L.nbx,
            max(L.point_index.size, 1),
            offs,
            o_row,
            o_col,
            o_val,
            np.zeros(nrow),
            np.zeros(nrow),
            np.zeros(nrow),
        )
        rows, cols, vals = [o_row], [o_col], [o_val]
        hrs = fp.receptors.hour
        name = self.species.name
        for j, pj in enumerate(system.neighbour_used):
            rows.append(rows_)
            cols.append(np.full(nrow, L.segments["neighbours"].start + si * len(L.neighbours) + j))
            vals.append(
                row_dot(fp, system.neighbour_W[pj], nox=reactive)
                * system.neighbour_density[name][hrs]
            )
        if name in L.biogenic_species:
            bi = L.biogenic_species.index(name)
            rows.append(rows_)
            cols.append(L.segments["biogenic"].start + bi * L.ndays + _beijing_day(system, hrs))
            vals.append(forward(fp, system.bio[name], nox=False))
        H = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(nrow, L.n),
        )
        H.sum_duplicates()
        return H

    def _fitted_turns(
        self,
        system: ObservationSystem,
        rows: tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray],
        tables: dict,
        superobs: pd.DataFrame,
        sigma_retrieval: np.ndarray,
        amf_rel: float,
    ) -> np.ndarray:
        """The wind turn (radians) fitted to each overpass's superobservations
        (``wind_direction_fit``), one per superobservation; 0 for overpasses too small to use.

        ``rows`` are the match's ``groups``, pixel weights, row hours and pixels used;
        ``superobs`` has ``overpass``, ``x``, ``y`` and ``observed``.  The prior enhancement at
        each candidate turn is kept per system, so that a copy with other values
        (:meth:`with_observed`) fits again without building it again."""
        s = self.settings
        owner = system.operators_of
        if self._turn_plumes is not None and self._turn_plumes[0]() is owner:
            plumes = self._turn_plumes[1]
        else:
            sd = np.radians(s.wind_direction_error_deg)
            plumes = np.stack(
                [
                    self._operator(system, *rows, turn_rad=sd * z, auxiliary=True, tables=tables)[0]
                    @ system.layout.xb()
                    for z in DIRECTION_FIT_NODES
                ]
            )
            self._turn_plumes = (weakref.ref(owner), plumes)
        central = plumes[int(np.argmin(np.abs(DIRECTION_FIT_NODES)))]
        label = superobs["overpass"].to_numpy()
        x, y = superobs["x"].to_numpy(float), superobs["y"].to_numpy(float)
        observed = superobs["observed"].to_numpy(float)
        turn = np.zeros(len(superobs))
        for each in np.unique(label):
            idx = np.flatnonzero(label == each)
            if idx.size < s.min_superobservations:
                continue
            C, X, d, _ = retrieval_covariance(
                x[idx],
                y[idx],
                observed[idx],
                central[idx],
                sigma_retrieval[idx] ** 2 + (s.representativeness_rel * central[idx]) ** 2,
                amf_rel,
                s.amf_correlation_km * 1000.0,
                s.amf_correlation_shape,
            )
            tiles = np.zeros(idx.size, np.int64)
            if s.wind_direction_fit_tile_km is not None:
                side = s.wind_direction_fit_tile_km * 1000.0
                cells = np.column_stack([np.floor(x[idx] / side), np.floor(y[idx] / side)])
                tiles = np.unique(cells, axis=0, return_inverse=True)[1].reshape(-1)
            z = fit_plume_turns(
                observed[idx],
                plumes[:, idx],
                C,
                X,
                DIRECTION_FIT_NODES,
                tiles,
                self._turn_prior(x[idx], y[idx], d, tiles),
            )
            turn[idx] = np.radians(s.wind_direction_error_deg * z[tiles])
        fitted = np.degrees(np.unique(turn[turn != 0.0])) if turn.any() else np.zeros(1)
        log.info(
            "%s: wind turn fitted per %s (σ %.0f°): median |turn| %.1f°, largest %.1f°",
            self.name,
            "overpass"
            if s.wind_direction_fit_tile_km is None
            else f"tile of {s.wind_direction_fit_tile_km:g} km",
            s.wind_direction_error_deg,
            float(np.median(np.abs(fitted))),
            float(np.abs(fitted).max()),
        )
        return turn

    def _turn_prior(
        self, x: np.ndarray, y: np.ndarray, distance: np.ndarray, tiles: np.ndarray
    ) -> np.ndarray:
        """The prior covariance (in σ²) of the turns of ``tiles`` (one per superobservation at
        ``x``, ``y``, m; ``distance`` their pairwise distances, m) of a direction-error field
        correlated as the plume-shape term's taper (``wind_direction_fit_prior``): 'pointwise',
        the field at the tiles' centres (their superobservations' mean place); 'overpass_mean',
        the tiles' means over their superobservations.  A nugget of 1e-9 keeps tiles whose
        centres nearly meet invertible."""
        scale = self.settings.shape_localisation_km * 1000.0
        member = np.eye(int(tiles.max()) + 1)[tiles]  # (n, n_tiles)
        count = member.sum(axis=0)
        if self.settings.wind_direction_fit_prior == "overpass_mean":
            prior = member.T @ gaspari_cohn(distance / scale) @ member / np.outer(count, count)
        else:
            cx, cy = (member.T @ v / count for v in (x, y))
            prior = gaspari_cohn(np.hypot(cx[:, None] - cx, cy[:, None] - cy) / scale)
        return prior + 1e-9 * np.eye(count.size)

    def _near_stacks(self, system: ObservationSystem, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether each pixel centre (m) lies within ``stack_pixels_km`` of a point source with
        its own unknowns (``state.n_point_unknowns``); all False when the setting is 0."""
        near = np.zeros(x.size, bool)
        index = system.layout.point_index
        if not self.settings.stack_pixels_km > 0 or not system.has_points or not len(index):
            return near
        stacks = system.points.iloc[index]
        r2 = (self.settings.stack_pixels_km * 1000.0) ** 2
        for sx, sy in zip(stacks["x"].to_numpy(float), stacks["y"].to_numpy(float), strict=True):
            near |= (x - sx) ** 2 + (y - sy) ** 2 <= r2
        return near

    def _empty(self, system: ObservationSystem) -> ColumnMatch:
        """The match of no usable pixel: no rows (logged once by :meth:`_usable`)."""
        n = system.layout.n
        fp = Footprints(
            Receptors(*(np.zeros(0) for _ in range(11))),
            system.grid.size,
            0,
            *(np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0), np.zeros(0)) * 2,
        )
        counts = {
            **self._counts,
            "n_superobservations": 0,
            "n_overpasses_used": 0,
            "n_overpasses_dropped": 0,
        }
        return ColumnMatch(
            pd.DataFrame(),
            sp.csr_matrix((0, n)),
            fp,
            [],
            {},
            _ROWS_EMPTY.copy(),
            counts,
        )

    def _build(self, system: ObservationSystem) -> ColumnMatch:
        if self.species.name not in system.species:
            raise InputDataError(
                f"{self.pixels.source}: columns of {self.species.name}, but the inversion's "
                f"state has {system.species}"
            )
        s = self.settings
        px = self.pixels
        g = system.grid
        sel, labels, hours = self._usable(system)
        if sel.size == 0:
            return self._empty(system)
        xc, yc = px.centres()
        size = s.superobservation_km * 1000.0
        bx = np.floor((xc[sel] - g.x_min) / size).astype(np.int64)
        by = np.floor((g.y_max - yc[sel]) / size).astype(np.int64)
        alone = self._near_stacks(system, xc[sel], yc[sel])
        # a box of its own (negative, so no square's) for each pixel near a stack
        bx[alone] = -1 - np.arange(int(alone.sum()))
        by[alone] = -1
        if s.stack_pixels_km > 0:
            self._counts["n_stack_pixel_rows"] = int(alone.sum())
        box = pd.DataFrame({"overpass": labels[sel], "bx": bx, "by": by})
        gid = box.groupby(["overpass", "bx", "by"], sort=True).ngroup().to_numpy()
        n_so = int(gid.max()) + 1 if gid.size else 0
        n_in = np.bincount(gid, minlength=n_so)
        weight = 1.0 / n_in[gid]
        order = np.argsort(gid, kind="stable")
        groups = np.split(order, np.cumsum(n_in)[:-1])
        row_hours = np.array([hours[sel[grp[0]]] for grp in groups], np.int64)
        tables: dict = {}
        H, fp = self._operator(system, groups, weight, row_hours, sel, tables=tables)
        L = system.layout
        so_x = np.bincount(gid, xc[sel], n_so) / np.maximum(n_in, 1)
        so_y = np.bincount(gid, yc[sel], n_so) / np.maximum(n_in, 1)
        so_label = np.array([labels[sel[grp[0]]] for grp in groups], dtype=str)
        value = np.asarray(px.value, float)[sel]
        prec2 = np.asarray(px.precision, float)[sel] ** 2
        observed = np.bincount(gid, value, n_so) / np.maximum(n_in, 1)
        sigma_ret = np.sqrt(np.bincount(gid, prec2, n_so)) / np.maximum(n_in, 1)
        # an air-mass factor scales a retrieved vertical column (NO2); a dry-air mole fraction
        # (XCO2) has none: 15 % of a 415 ppm column would be a 60 ppm error that drowns the
        # few-ppm plumes, so XCO2 carries its retrieval and representativeness errors only
        amf_rel = s.amf_error_rel if self.quantity == "vertical_column" else 0.0
        # the wind turn fitted to each overpass's columns (the values handed over by
        # with_observed when there are such), one per pixel of ``sel``; H and every auxiliary
        # operator below are built with the winds turned by it
        base_turn: float | np.ndarray = 0.0
        if s.wind_direction_fit:
            values = observed
            if self._observed is not None and np.shape(self._observed) == observed.shape:
                values = np.asarray(self._observed, float)
            turn = self._fitted_turns(
                system,
                (groups, weight, row_hours, sel),
                tables,
                pd.DataFrame({"overpass": so_label, "x": so_x, "y": so_y, "observed": values}),
                sigma_ret,
                amf_rel,
            )
            base_turn = turn[gid]
            if base_turn.any():
                H, _ = self._operator(
                    system, groups, weight, row_hours, sel, turn_rad=base_turn, tables=tables
                )
        # the plume-shape error: the operator with every wind turned by the Gauss–Hermite nodes
        # of the direction error (the central node is H itself); with ``expected_plume`` H
        # becomes the nodes' mean, the expected plume, and R's term is the spread about it
        shape_deviations = np.zeros((0, len(groups)))
        speed_deviations = np.zeros((0, len(groups)))
        central = shape_mean = None
        nodes, node_weights = transport_quadrature(int(s.quadrature_nodes))
        coarse = s.auxiliary_sampling == "coarse"
        # the central plume's operator, kept as H may become the expected plume below
        built: dict[tuple[float, float], sp.csr_matrix] = {} if coarse else {(0.0, 0.0): H}

        def node_operator(turn_deg: float, log_speed: float) -> sp.csr_matrix:
            """The operator at one node of the direction or the speed error, built once; the
            central node is H's own unless the nodes are sampled coarse."""
            key = (turn_deg, log_speed)
            if key not in built:
                built[key] = self._operator(
                    system,
                    groups,
                    weight,
                    row_hours,
                    sel,
                    turn_rad=base_turn + np.radians(turn_deg),
                    auxiliary=True,
                    tables=tables,
                    speed_scale=float(np.exp(log_speed)),
                )[0]
            return built[key]

        if s.wind_direction_error_deg > 0:
            operators = [node_operator(s.wind_direction_error_deg * z, 0.0) for z in nodes]
            # with coarse nodes the central plume of the ratio below is theirs too
            at_zero = [op for z, op in zip(nodes, operators, strict=True) if z == 0.0]
            central = (at_zero[0] if at_zero else H) @ L.xb()
            shape_mean, _, deviations = quadrature_moments(
                [op @ L.xb() for op in operators], node_weights
            )
            shape_deviations = np.stack(deviations)
            if s.expected_plume:
                H = sum(w * op for w, op in zip(node_weights, operators, strict=True)).tocsr()
            log.info(
                "%s: plume-shape error (wind direction ±%.0f°, %d nodes): the nodes' mean "
                "enhancement is %.3f × the central plume's%s",
                self.name,
                s.wind_direction_error_deg,
                len(nodes),
                float(shape_mean.sum() / central.sum()) if central.sum() else float("nan"),
                "; H is the expected plume" if s.expected_plume else "",
            )
        if s.wind_speed_shape:
            # the wind-speed term as plumes recomputed at the nodes of the log-speed error
            _, _, deviations = quadrature_moments(
                [node_operator(0.0, s.wind_speed_error_rel * z) @ L.xb() for z in nodes],
                node_weights,
            )
            speed_deviations = np.stack(deviations)
        # the modelled columns' change per relative change of the mixing height: central
        # difference with zi scaled by 1 ± step (the step of the surface operator's column),
        # for R's mixing-height term or for the state's daily scale δ
        mixing_height_slope = np.zeros((1, n_so))
        if s.mixing_height_error_rel > 0 or L.transport_days:
            cfg = system.config
            step = s.mixing_height_error_rel or (
                cfg.errors.model_error_mixing_height_rel or cfg.state.mixing_height_prior_error
            )
            up, down = (
                self._operator(
                    system,
                    groups,
                    weight,
                    row_hours,
                    sel,
                    zscale=1.0 + sgn * step,
                    turn_rad=base_turn,
                    auxiliary=True,
                )[0]
                @ L.xb()
                for sgn in (1.0, -1.0)
            )
            mixing_height_slope[0] = (up - down) / (2.0 * step)
        if L.transport_days and s.mixing_height_error_rel == 0:
            # the column of the day's mixing-height scale δ (of the superobservation's city,
            # with state.mixing_height_regions 'city')
            H = (
                H
                + sp.csr_matrix(
                    (
                        mixing_height_slope[0],
                        (
                            np.arange(n_so),
                            L.transport_col(
                                system.mixing_height_region_of(so_x, so_y),
                                _beijing_day(system, row_hours),
                            ),
                        ),
                    ),
                    shape=H.shape,
                )
            ).tocsr()
        # the modelled enhancement at the prior emissions and the reference lifetime
        modelled = H @ L.xb()
        sigma_rep = s.representativeness_rel * np.abs(modelled)
        # the prior enhancement from urban and from rural sources (wind_speed_error_rel and
        # the state's column transport scales)
        by_class = np.zeros((2, n_so))
        if s.wind_speed_error_rel > 0 or L.column_terms:
            by_class[0] = H @ (L.xb() * urban_share(system))
            by_class[1] = modelled - by_class[0]
        # the prior enhancement's change per relative change of the reactive species' lifetime
        # (lifetime_error_rel, or the state's lifetime scale): central difference over
        # τ × (1 ± step) around the reference lifetime; an inert species' columns do not
        # depend on it
        lifetime_slope = np.zeros((1, n_so))
        step = s.lifetime_error_rel or (
            system.config.state.column_lifetime_prior_error if L.column_terms else 0.0
        )
        if step > 0 and self.species.name == system.config.chemistry.reactive_species:
            up, down = (
                self._operator(
                    system,
                    groups,
                    weight,
                    row_hours,
                    sel,
                    tscale=1.0 + sgn * step,
                    turn_rad=base_turn,
                    auxiliary=True,
                    tables=tables,
                )[0]
                @ L.xb()
                for sgn in (1.0, -1.0)
            )
            lifetime_slope[0] = (up - down) / (2.0 * step)
        prior = modelled
        if L.column_terms:
            # the columns of the persistent transport unknowns, shared by every overpass; the
            # state's lifetime scale c is relative to the chemistry's τ, the slope above to
            # the reference τ (1 + c₀): d/dc = slope / (1 + c₀), and the rows carry the model
            # linearised at c₀, H(c₀) x + m (c − c₀), whose value at the prior state is
            # ``prior`` (Gauss–Newton)
            c0 = s.lifetime_reference
            slope = {
                "urban_transport_scale": by_class[0],
                "rural_transport_scale": by_class[1],
                "lifetime_scale": lifetime_slope[0] / (1.0 + c0),
            }
            if c0 != 0.0 and "lifetime_scale" in L.column_terms:
                prior = modelled - slope["lifetime_scale"] * c0
            first = L.segments["column_transport"].start
            H = (
                H
                + sp.csr_matrix(
                    (
                        np.concatenate([slope[t] for t in L.column_terms]),
                        (
                            np.tile(np.arange(n_so), len(L.column_terms)),
                            np.repeat(first + np.arange(len(L.column_terms)), n_so),
                        ),
                    ),
                    shape=H.shape,
                )
            ).tocsr()
        lon, lat = g.unproject(so_x, so_y)
        # the mean time of each superobservation's pixels (ns after the period's start)
        t_pix = (np.asarray(px.time, "datetime64[ns]")[sel] - system.times.values[0]).astype(
            np.int64
        )
        so_time = system.times.values[0] + (
            np.bincount(gid, t_pix.astype(float), n_so) / np.maximum(n_in, 1)
        ).astype(np.int64).astype("timedelta64[ns]")
        table = pd.DataFrame(
            {
                "overpass": so_label,
                "x": so_x,
                "y": so_y,
                "lon": lon,
                "lat": lat,
                "time": system.times.values[row_hours],
                "pixel_time": so_time,
                "hour": row_hours,
                "n_pixels": n_in,
                "observed": observed,
                "prior": prior,
                "sigma_retrieval": sigma_ret,
                "sigma_representativeness": sigma_rep,
            }
        )
        blocks, row_tables = [], []
        covariances: dict[str, np.ndarray] = {}
        sigma_amf = np.zeros(n_so)
        used = np.zeros(n_so, bool)
        n_dropped = 0
        for label in np.unique(so_label):
            idx = np.flatnonzero(so_label == label)
            if idx.size < s.min_superobservations:
                n_dropped += 1
                continue
            C, X, d, sig_amf = retrieval_covariance(
                so_x[idx],
                so_y[idx],
                observed[idx],
                modelled[idx],
                sigma_ret[idx] ** 2 + sigma_rep[idx] ** 2,
                amf_rel,
                s.amf_correlation_km * 1000.0,
                s.amf_correlation_shape,
            )
            C = scale_error_covariance(C, modelled[idx], s.scale_error_rel)
            if speed_deviations.size and s.wind_speed_shape_correlation == "overpass":
                C = scale_error_covariance(C, speed_deviations[:, idx], 1.0)
            elif speed_deviations.size:
                C = C + plume_shape_covariance(
                    speed_deviations[:, idx], d, s.shape_localisation_km * 1000.0
                )
            else:
                C = scale_error_covariance(C, by_class[:, idx], s.wind_speed_error_rel)
            C = scale_error_covariance(C, lifetime_slope[:, idx], s.lifetime_error_rel)
            C = scale_error_covariance(C, mixing_height_slope[:, idx], s.mixing_height_error_rel)
            if shape_deviations.size:
                C = C + plume_shape_covariance(
                    shape_deviations[:, idx], d, s.shape_localisation_km * 1000.0
                )
            T = _whitening_projection(C, X)
            blocks.append((idx, T))
            covariances[label] = C
            sigma_amf[idx] = sig_amf
            used[idx] = True
            row_tables.append(
                pd.DataFrame(
                    {
                        "station_id": f"{self.name}:{label}",
                        "species": self.species.observed_as,
                        "kind": COLUMN_ROW_KIND,
                        "time": system.times.values[row_hours[idx[0]]],
                        "lon": float(lon[idx].mean()),
                        "lat": float(lat[idx].mean()),
                        "observed": T @ observed[idx],
                        "prior": T @ prior[idx],
                    }
                )
            )
        table["sigma_amf"] = sigma_amf
        if s.scale_error_rel > 0:
            table["sigma_scale"] = np.where(used, s.scale_error_rel * np.abs(modelled), 0.0)
        if s.lifetime_error_rel > 0:
            table["sigma_lifetime"] = np.where(
                used, s.lifetime_error_rel * np.abs(lifetime_slope[0]), 0.0
            )
        if s.mixing_height_error_rel > 0:
            table["sigma_mixing_height"] = np.where(
                used, s.mixing_height_error_rel * np.abs(mixing_height_slope[0]), 0.0
            )
        if s.wind_speed_error_rel > 0:
            sigma_wind = (
                np.sqrt((speed_deviations**2).sum(axis=0))
                if speed_deviations.size
                else s.wind_speed_error_rel * np.hypot(by_class[0], by_class[1])
            )
            table["sigma_wind"] = np.where(used, sigma_wind, 0.0)
        if s.wind_speed_error_rel > 0 and not s.wind_speed_shape:
            # the parts the two scales multiply: their posterior per overpass is reported
            # (column_fit.transport_scales)
            table["prior_urban"] = by_class[0]
            table["prior_rural"] = by_class[1]
        if s.wind_direction_fit:
            table["wind_turn_deg"] = np.degrees(turn)
        if shape_deviations.size:
            table["prior_central"] = central
            table["prior_nodes_mean"] = shape_mean
            table["sigma_shape"] = np.where(used, np.sqrt((shape_deviations**2).sum(axis=0)), 0.0)
        table["used"] = used
        m = sum(T.shape[0] for _, T in blocks)
        if m:
            rows = pd.concat(row_tables, ignore_index=True)
        else:
            rows = _ROWS_EMPTY.copy()
            log.info("%s: no overpass has %d superobservations", self.name, s.min_superobservations)
        counts = {
            **self._counts,
            "n_superobservations": int(used.sum()),
            "n_overpasses_used": len(blocks),
            "n_overpasses_dropped": n_dropped,
        }
        members = SuperobservationPixels(sel, order, n_in, weight, row_hours)
        return ColumnMatch(table, H, fp, blocks, covariances, rows, counts, members)


def _stacked_rows(
    parts: list[tuple[np.ndarray, ...]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The CSR rows of :func:`rows_nonzero` of successive chunks as one: row pointers (int64),
    columns (int32), inert and NOx values (float32)."""
    if not parts:
        return np.zeros(1, np.int64), np.zeros(0, np.int32), *(np.zeros(0, np.float32),) * 2
    ptr = [np.zeros(1, np.int64)]
    for p, *_ in parts:
        ptr.append(p[1:] + ptr[-1][-1])
    return (
        np.concatenate(ptr),
        np.concatenate([q[1] for q in parts]).astype(np.int32),
        np.concatenate([q[2] for q in parts]).astype(np.float32),
        np.concatenate([q[3] for q in parts]).astype(np.float32),
    )


def mixing_height_sensitivity(
    pressure_edges: np.ndarray,
    kernel: np.ndarray,
    mixing_heights_m: np.ndarray,
    distances_m: np.ndarray,
    *,
    stability: int = 3,
    release_height_m: float = 10.0,
    urban: bool = False,
    lid_factor: float = 1.6,
    temperature_k: float = 288.0,
    step: float = 0.1,
) -> pd.DataFrame:
    """How the modelled column of a plume depends on the mixing height under an averaging
    kernel.

    The column is ``Q/ū · G_y · Σ A_l w_l``; ``ū`` and ``G_y`` do not depend on the mixing
    height, so the column's sensitivity is that of ``V = Σ A_l w_l``.

    Parameters
    ----------
    pressure_edges : ndarray ``(nl + 1,)``
        Layer edges, Pa, from the surface upward.
    kernel : ndarray ``(nl,)``
        Averaging kernel per layer.
    mixing_heights_m, distances_m : ndarray
        Mixing heights and downwind distances to tabulate, m.
    stability : int
        Stability class 0..5 (A..F); the mixing height only matters in A–D.
    release_height_m : float
        Effective release height, m.
    urban, lid_factor, temperature_k : optional
        Dispersion curves, uniform-below-the-lid threshold, isothermal layer temperature (K).
    step : float
        Relative step of the central difference.

    Returns
    -------
    DataFrame
        ``distance_km``, ``mixing_height_m``, ``kernel_weight`` (V: the modelled column over
        the column of a uniform kernel) and ``dlnV_dlnzi`` (relative change of the column per
        relative change of the mixing height).
    """
    z = layer_heights(np.asarray(pressure_edges, float)[None], np.array([temperature_k]))[0]
    a = np.asarray(kernel, float)
    rows = []
    for x in np.asarray(distances_m, float):
        _, sz = sigmas(int(stability), x, urban)
        _, szf = sigmas(4, x, urban)

        for zi in np.asarray(mixing_heights_m, float):
            v, hi, lo = (
                vertical_kernel_weight(
                    int(stability), release_height_m, sz, szf, h, lid_factor, z, a, a.size
                )
                for h in (zi, zi * (1 + step), zi * (1 - step))
            )
            rows.append(
                {
                    "distance_km": x / 1000.0,
                    "mixing_height_m": zi,
                    "kernel_weight": v,
                    "dlnV_dlnzi": (np.log(hi) - np.log(lo)) / (np.log1p(step) - np.log1p(-step)),
                }
            )
    return pd.DataFrame(rows)


_ROWS_EMPTY = pd.DataFrame(
    columns=["station_id", "species", "kind", "time", "lon", "lat", "observed", "prior"]
)


#: The period's meteorology of a system per source (:func:`_period_met`).
_PERIOD_MET: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _period_met(system: ObservationSystem, meteorology: MeteorologySource) -> Any:
    """``with_cloud_cover(meteorology.for_hours(system.times))``, computed once per system and
    meteorology source (every overpass of a month reads the same hours)."""
    per_source = _PERIOD_MET.setdefault(system, {})
    hit = per_source.get(id(meteorology))
    if hit is None or hit[0] is not meteorology:
        hit = (meteorology, with_cloud_cover(meteorology.for_hours(system.times)))
        per_source[id(meteorology)] = hit
    return hit[1]


def _beijing_day(system: ObservationSystem, hours: np.ndarray) -> np.ndarray:
    """Index of the Beijing day of each hour of the period in ``system.days``."""
    return system.hour_day[hours]


def plane_design(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``[1, (x − x̄)/100 km, (y − ȳ)/100 km]``: the plane's design matrix, centred and scaled
    for conditioning."""
    return np.column_stack([np.ones(x.size), (x - x.mean()) / 1e5, (y - y.mean()) / 1e5])


def urban_share(system: ObservationSystem) -> np.ndarray:
    """The share of each state element's emissions that sits in urban cells (the
    dispersion's urban rule, ``transport.urban_fraction_threshold``): a grid factor's share is
    the fraction of its block's cells that are urban, a point source's 1 or 0 by its cell; the
    other elements (neighbour provinces, background, bias, mixing height) 0.

    Returns
    -------
    ndarray ``(n,)`` in [0, 1], dimensionless.
    """
    L = system.layout
    block = L.cell_block()
    nb = L.nby * L.nbx
    urban = np.asarray(system.urban, dtype=np.float64)
    share_block = np.bincount(block, urban, nb) / np.maximum(np.bincount(block, minlength=nb), 1)
    out = np.zeros(L.n)
    g = L.segments["grid"]
    out[g] = np.tile(share_block, L.ns * L.nw)
    p = L.segments["points"]
    if p.stop > p.start:
        out[p] = np.tile(urban[system.point_cells[L.point_index]], L.ns)
    return out


def scale_error_covariance(
    covariance: np.ndarray, modelled: np.ndarray, scale_error_rel: float
) -> np.ndarray:
    """The error covariance of an overpass's superobservations with an unknown multiplicative
    scale of the modelled enhancement marginalised: ``C + σ_s² m mᵀ`` — or, for parts of the
    enhancement with independent scales of one 1-σ (the urban and rural parts of a wind-speed
    error), ``C + σ_s² Σ_k m_k m_kᵀ``.

    The modelled superobservations are ``(1 + s) H x``; linearised at the prior,
    ``(1 + s) H x ≈ H x + s m`` with ``m = H x_b``.  A scale ``s`` with prior ``N(0, σ_s²)``
    estimated beside the state and integrated out leaves ``H x`` with the error covariance
    ``C + σ_s² m mᵀ`` (exact for linear least squares, as the plane's marginalisation is):
    no unknown is added to the state.

    Parameters
    ----------
    covariance : ndarray ``(n, n)``
        ``C``, symmetric positive definite, squared observation units (mol² m-4 or ppm²).
    modelled : ndarray ``(n,)`` or ``(k, n)``
        ``m``: the prior modelled enhancement of the overpass's superobservations (without
        background), observation units; or ``k`` parts of it, each with its own scale.
    scale_error_rel : float
        ``σ_s``, dimensionless (0.41: 41 % of the modelled enhancement), ≥ 0.

    Returns
    -------
    ndarray ``(n, n)``
        ``covariance`` itself when ``scale_error_rel`` is 0 (nothing is recomputed), else the
        new symmetric positive definite matrix (``C`` plus a positive semi-definite term of
        rank ≤ k).
    """
    if not scale_error_rel >= 0:
        raise ConfigError(
            f"column scale_error_rel = {scale_error_rel!r}: give a relative 1-σ ≥ 0 (0: off)"
        )
    if scale_error_rel == 0:
        return covariance
    m = np.atleast_2d(np.asarray(modelled, float))
    if m.ndim != 2 or m.shape[1] != covariance.shape[0]:
        raise InputDataError(
            f"scale error: modelled values of shape {np.shape(modelled)} for a covariance of "
            f"{covariance.shape}; give one per superobservation (per part)"
        )
    # one outer product per part: exactly symmetric
    return covariance + scale_error_rel**2 * sum(np.outer(part, part) for part in m)


def _no2_ramp(settings: ColumnSettings, chemistry: Any) -> tuple[float, float]:
    """The NO2/NOx fractions (at the source, reached by an aged plume) of the column plumes."""
    if settings.no2_ratio is not None:
        return settings.no2_ratio, settings.no2_ratio
    aged = chemistry.no2_equilibrium_fraction
    return (aged if settings.photostationary_no2 else chemistry.no2_primary_fraction), aged


def _is_wind(value: Any) -> bool:
    """Whether ``value`` is a wind vector ``(u, v)``: two finite numbers, not both 0."""
    try:
        uv = np.asarray(value, float)
    except (TypeError, ValueError):
        return False
    return uv.shape == (2,) and bool(np.all(np.isfinite(uv))) and float(np.hypot(*uv)) > 0


def _scale_wind_speed(
    met: dict[str, np.ndarray],
    factor: float | np.ndarray,
    transport: Any,
    where: np.ndarray | slice = slice(None),
) -> None:
    """Multiply the 10 m wind speed of the pixels ``where`` of ``met`` (arrays like
    :meth:`ColumnObservations._pixel_met`'s, changed in place) by ``factor``: the plume's
    wind ``u10`` keeps the calm floor (``transport.calm_floor_m_s``) and the Turner class is
    recomputed from the new speed, as the surface OSSE's perturbed met does."""
    speed = met["speed"][where] * factor
    met["u10"][where] = np.maximum(speed, transport.calm_floor_m_s)
    met["uplume"][where] = met["uplume"][where] * factor  # a given plume wind, too
    met["k"][where] = turner_class(speed, met["sun_elevation"][where], met["cloud"][where])


def plume_shape_covariance(
    deviations: np.ndarray, distance_m: np.ndarray, localisation_m: float
) -> np.ndarray:
    """The plume-shape part of an overpass's error covariance: the covariance of the prior
    modelled enhancement over the wind-direction quadrature, tapered with distance,
    ``(Σ_k δ_k δ_kᵀ) ∘ GC(d / c)``.

    Parameters
    ----------
    deviations : ndarray ``(k, n)``
        ``δ_k = √w_k (m_k − m̄)``: each node's weighted deviation of the modelled
        superobservations from the nodes' mean (:func:`~gridcarbon.inversion.system.
        quadrature_moments`), observation units.
    distance_m : ndarray ``(n, n)``
        Distances between the superobservations, m.
    localisation_m : float
        ``c``, the Gaspari–Cohn half-width, m (> 0; the correlation is 0 beyond ``2c``).

    Returns
    -------
    ndarray ``(n, n)``
        Symmetric positive semi-definite (a Schur product of two such matrices), squared
        observation units; its diagonal is the nodes' variance.
    """
    if not localisation_m > 0:
        raise ConfigError(f"plume-shape localisation {localisation_m!r} m: give a length > 0")
    dev = np.atleast_2d(np.asarray(deviations, float))
    if dev.shape[1] != np.shape(distance_m)[0]:
        raise InputDataError(
            f"plume-shape error: deviations of shape {dev.shape} for distances of shape "
            f"{np.shape(distance_m)}; give one value per superobservation and node"
        )
    return (dev.T @ dev) * gaspari_cohn(np.asarray(distance_m, float) / localisation_m)


def _with_observed(found: ColumnMatch, observed: np.ndarray, name: str) -> ColumnMatch:
    """``found`` with its superobservations' values replaced and its rows whitened anew."""
    if observed.shape != (len(found.superobs),):
        raise InputDataError(
            f"{name}: {observed.shape} values for {len(found.superobs)} superobservations; give "
            "one value per superobservation of the system the columns are matched to"
        )
    table = found.superobs.assign(observed=observed)
    rows = found.rows.copy()
    if found.blocks:
        rows["observed"] = np.concatenate([T @ observed[idx] for idx, T in found.blocks])
    return replace(found, superobs=table, rows=rows)


def retrieval_covariance(
    x: np.ndarray,
    y: np.ndarray,
    observed: np.ndarray,
    modelled: np.ndarray,
    independent_variance: np.ndarray,
    amf_error_rel: float,
    amf_correlation_m: float,
    amf_correlation_shape: str = "exponential",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The error covariance of one overpass's superobservations before any transport term.

    Parameters
    ----------
    x, y : array ``(n,)``
        Superobservation centres, m.
    observed, modelled : array ``(n,)``
        Observed column and prior modelled enhancement (observation units).
    independent_variance : array ``(n,)``
        Retrieval plus representativeness variance of each superobservation.
    amf_error_rel : float
        1-σ air-mass-factor error as a fraction of the column (0 for a mole fraction); its
        reference column is the prior model plus the overpass's least-squares plane.
    amf_correlation_m : float
        Length of the AMF error's correlation, m.
    amf_correlation_shape : {'exponential', 'gaussian'}
        Its form (:func:`amf_correlation`).

    Returns
    -------
    C : array ``(n, n)``
    X : array ``(n, 3)``
        The background plane's design (:func:`plane_design`).
    d : array ``(n, n)``
        Distances between the superobservations, m.
    sigma_amf : array ``(n,)``
    """
    X = plane_design(x, y)
    beta, *_ = np.linalg.lstsq(X, observed - modelled, rcond=None)
    sig_amf = amf_error_rel * np.maximum(modelled + X @ beta, 0.0)
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    C = np.diag(independent_variance) + np.outer(sig_amf, sig_amf) * amf_correlation(
        d, amf_correlation_m, amf_correlation_shape
    )
    return C, X, d, sig_amf


def amf_correlation(distance: np.ndarray, length: float, shape: str) -> np.ndarray:
    """The air-mass-factor error's correlation at ``distance`` (the unit of ``length``):
    ``exp(−d/L)`` ('exponential') or ``exp(−d²/2L²)`` ('gaussian')."""
    d = np.asarray(distance, float)
    if shape == "exponential":
        return np.exp(-d / length)
    if shape == "gaussian":
        return np.exp(-0.5 * (d / length) ** 2)
    raise ConfigError(
        f"amf_correlation_shape = {shape!r} is not one of {', '.join(AMF_CORRELATION_SHAPES)}"
    )


def fit_plume_turn(
    observed: np.ndarray,
    plumes: np.ndarray,
    covariance: np.ndarray,
    design: np.ndarray,
    nodes: np.ndarray,
    strength_sd: float = DIRECTION_FIT_STRENGTH_SD,
    prior_sd: float = 1.0,
) -> float:
    """The most probable wind turn of one overpass, in units of the direction error's σ,
    given its columns.

    The background-free, whitened columns ``r = T y`` (``T`` the whitening and plane
    projection of ``covariance`` and ``design``) are modelled at each candidate turn ``z_j`` as
    ``a T m_j`` plus unit noise, with the plume's strength ``a ~ N(1, strength_sd²)`` (the
    prior emissions give 1; the inversion sets it) integrated out: ``r ~ N(v_j, I + s² v_j
    v_jᵀ)``, ``v_j = T m_j``.  Its −2 log evidence plus the normal prior's ``z_j²`` is the
    cost; the turn is the vertex of the parabola through the least cost and its neighbours
    (never past them; an end candidate when the least cost is there).  Columns that cannot
    tell the candidates apart leave the prior's 0; a plume seen clearly gives its place to a
    fraction of the candidates' step (a turned plume's cost is not a parabola: it rises as
    fast as the plumes part, then flattens).  :func:`fit_plume_turns` with a single tile.

    Parameters
    ----------
    observed : array ``(n,)``
        The overpass's superobservations (observation units).
    plumes : array ``(n_nodes, n)``
        The prior modelled enhancement with the winds turned by each node.
    covariance : array ``(n, n)``
        Their error covariance (:func:`retrieval_covariance`).
    design : array ``(n, k)``
        The background's design, projected out (:func:`plane_design`).
    nodes : array ``(n_nodes,)``
        The candidate turns in σ, increasing and evenly spaced.
    strength_sd : float
        1-σ of the plume's strength relative to the prior's (> 0).
    prior_sd : float
        1-σ of the turn's normal prior in units of the direction error's σ (> 0; the prior
        term is ``(z / prior_sd)²``): 1 for the pointwise error, less for an overpass's mean
        turn (``ColumnSettings.wind_direction_fit_prior``).

    Returns
    -------
    float
        The fitted turn in σ, within ``[nodes[0], nodes[-1]]``.
    """
    if not prior_sd > 0:
        raise ConfigError(f"prior_sd = {prior_sd!r}: give a 1-σ > 0")
    one = np.zeros(np.shape(observed)[0], np.int64)
    prior = np.array([[prior_sd**2]])
    return float(
        fit_plume_turns(observed, plumes, covariance, design, nodes, one, prior, strength_sd)[0]
    )


def fit_plume_turns(
    observed: np.ndarray,
    plumes: np.ndarray,
    covariance: np.ndarray,
    design: np.ndarray,
    nodes: np.ndarray,
    tiles: np.ndarray,
    prior_covariance: np.ndarray,
    strength_sd: float = DIRECTION_FIT_STRENGTH_SD,
) -> np.ndarray:
    """The most probable wind turn of each tile of one overpass, in units of the direction
    error's σ, given the overpass's columns: the turn as a field, one value per tile.

    The model of :func:`fit_plume_turn`, with each superobservation's modelled enhancement
    taken at its own tile's turn (a pixel's column depends on its own winds only), one plume
    strength and one background plane for the overpass, and a joint normal prior on the
    tiles' turns, ``zᵀ P⁻¹ z``.  The candidates of every tile are searched by coordinate
    descent from no turn (each tile in turn takes its best candidate, the others held, then
    the whole field shifted by the best whole number of candidates, until nothing changes; a
    single tile's is thus the least of its candidates), then the turns are the vertex of the
    quadratic through the costs of the chosen candidates and their neighbours (central
    differences; tiles at an end candidate keep it), within half a step of the candidates.

    Parameters
    ----------
    observed, plumes, covariance, design, nodes, strength_sd
        As :func:`fit_plume_turn`.
    tiles : int array ``(n,)``
        Each superobservation's tile, 0 … n_tiles − 1, every tile holding at least one.
    prior_covariance : array ``(n_tiles, n_tiles)``
        The prior covariance of the tiles' turns in σ² (symmetric positive definite).

    Returns
    -------
    array ``(n_tiles,)``
        The fitted turns in σ, each within ``[nodes[0], nodes[-1]]``.
    """
    if not strength_sd > 0:
        raise ConfigError(f"strength_sd = {strength_sd!r}: give a 1-σ > 0")
    tiles = np.asarray(tiles, np.int64)
    n_tiles = int(tiles.max()) + 1
    P = np.asarray(prior_covariance, float)
    if P.shape != (n_tiles, n_tiles) or np.bincount(tiles, minlength=n_tiles).min() == 0:
        raise ValueError(
            f"fit_plume_turns: {P.shape} prior covariance for tiles 0…{n_tiles - 1}; give one "
            "row and column per tile, and every tile at least one superobservation"
        )
    nodes = np.asarray(nodes, float)
    precision = np.linalg.inv(P)
    T = _whitening_projection(covariance, design)
    r = T @ np.asarray(observed, float)
    # V[t, j]: the whitened enhancement of tile t's superobservations at candidate j (only
    # the tile's columns of T: all tiles together cost one product of the whole plumes)
    plumes = np.asarray(plumes, float)
    V = np.zeros((n_tiles, nodes.size, T.shape[0]))
    for t in range(n_tiles):
        mine = tiles == t
        V[t] = plumes[:, mine] @ T[:, mine].T
    choice = np.full(n_tiles, int(np.argmin(np.abs(nodes))))

    def costs_of(t: int) -> np.ndarray:
        """Every candidate's cost for tile ``t``, the other tiles at their choice."""
        others = V[np.arange(n_tiles), choice].sum(axis=0) - V[t, choice[t]]
        z = np.tile(nodes[choice], (nodes.size, 1))
        z[:, t] = nodes
        prior = np.einsum("ij,jk,ik->i", z, precision, z)
        return _plume_evidence(r, others[None, :] + V[t], strength_sd) + prior

    def cost_of(picked: np.ndarray) -> float:
        v = V[np.arange(n_tiles), picked].sum(axis=0)
        z = nodes[picked]
        return float(_plume_evidence(r, v[None, :], strength_sd)[0] + z @ precision @ z)

    for _ in range(4 * n_tiles * nodes.size):  # each sweep that changes lowers the cost
        changed = False
        for t in range(n_tiles):
            best = int(np.argmin(costs_of(t)))
            changed |= best != choice[t]
            choice[t] = best
        # the whole field shifted by every whole number of steps that fits: tiles tied by
        # their prior move together, past costs that rise before they fall
        shifts = np.arange(-int(choice.min()), nodes.size - int(choice.max()))
        costs = [cost_of(choice + k) for k in shifts]
        k = int(shifts[int(np.argmin(costs))])
        if k != 0 and min(costs) < cost_of(choice):
            choice, changed = choice + k, True
        if not changed:
            break
    # the vertex of the quadratic through the costs at the chosen candidates and their
    # neighbours, by central differences over the tiles not at an end (those keep their
    # candidate; a single tile's is the parabola through three costs), never more than half
    # a step from the candidates; where the quadratic is not convex, each tile's parabola
    # alone, the others held
    z = nodes[choice].copy()
    inner = np.flatnonzero((choice > 0) & (choice < nodes.size - 1))
    if inner.size:
        at = cost_of(choice)

        def moved(*steps: tuple[int, int]) -> float:
            picked = choice.copy()
            for t, k in steps:
                picked[t] += k
            return cost_of(picked)

        up = np.array([moved((t, 1)) for t in inner])
        down = np.array([moved((t, -1)) for t in inner])
        gradient = 0.5 * (up - down)
        hessian = np.diag(up - 2.0 * at + down)
        for a in range(inner.size):
            for b in range(a + 1, inner.size):
                ta, tb = inner[a], inner[b]
                hessian[a, b] = hessian[b, a] = 0.25 * (
                    moved((ta, 1), (tb, 1))
                    - moved((ta, 1), (tb, -1))
                    - moved((ta, -1), (tb, 1))
                    + moved((ta, -1), (tb, -1))
                )
        try:
            np.linalg.cholesky(hessian)
            offset = -np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            curvature = np.diag(hessian)
            safe = np.where(curvature > 0, curvature, 1.0)
            offset = np.where(curvature > 0, -gradient / safe, 0.0)
        z[inner] += float(nodes[1] - nodes[0]) * np.clip(offset, -0.5, 0.5)
    return z


def turn_costs(
    observed: np.ndarray,
    plumes: np.ndarray,
    covariance: np.ndarray,
    design: np.ndarray,
    nodes: np.ndarray,
    strength_sd: float = DIRECTION_FIT_STRENGTH_SD,
    prior_sd: float = 1.0,
) -> np.ndarray:
    """−2 log posterior of each candidate turn of :func:`fit_plume_turn` (same parameters),
    up to a constant common to all: ``eᵀ (I + s² v vᵀ)⁻¹ e + log det (I + s² v vᵀ) +
    (z / prior_sd)²``, ``e = r − v``."""
    for name, value in (("strength_sd", strength_sd), ("prior_sd", prior_sd)):
        if not value > 0:
            raise ConfigError(f"{name} = {value!r}: give a 1-σ > 0")
    T = _whitening_projection(covariance, design)
    r = T @ np.asarray(observed, float)
    V = np.asarray(plumes, float) @ T.T
    return _plume_evidence(r, V, strength_sd) + (np.asarray(nodes, float) / prior_sd) ** 2


def _plume_evidence(r: np.ndarray, V: np.ndarray, strength_sd: float) -> np.ndarray:
    """−2 log evidence (up to a constant) of whitened columns ``r`` for each row ``v`` of
    ``V``: ``r ~ N(v, I + s² v vᵀ)``, the plume's strength ``N(1, s²)`` integrated out."""
    vv = np.einsum("ij,ij->i", V, V)
    s2 = strength_sd**2
    e = r[None, :] - V
    ve = np.einsum("ij,ij->i", V, e)
    # Sherman–Morrison for the inverse, the matrix determinant lemma for the determinant
    return np.einsum("ij,ij->i", e, e) - s2 * ve**2 / (1.0 + s2 * vv) + np.log1p(s2 * vv)


def _whitening_projection(C: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``T = Q₂ᵀ L⁻¹`` (``C = L Lᵀ``, ``L⁻¹ X = Q R``, ``Q₂`` the columns of Q beyond X's):
    ``T X = 0`` and ``T C Tᵀ = I``, ``m − 3`` rows."""
    Lc = np.linalg.cholesky(C)
    Z = sla.solve_triangular(Lc, X, lower=True)
    Q, _ = np.linalg.qr(Z, mode="complete")
    Q2 = Q[:, X.shape[1] :]
    return sla.solve_triangular(Lc, Q2, lower=True, trans="T").T


def _distance_to_edge(x, y, dx, dy, bounds) -> np.ndarray:
    """Distance from (x, y) along the unit vector (dx, dy) to the edge of ``bounds``, m."""
    x0, y0, x1, y1 = bounds
    with np.errstate(divide="ignore", invalid="ignore"):
        tx = np.where(dx > 0, (x1 - x) / dx, np.where(dx < 0, (x0 - x) / dx, np.inf))
        ty = np.where(dy > 0, (y1 - y) / dy, np.where(dy < 0, (y0 - y) / dy, np.inf))
    return np.minimum(tx, ty)
