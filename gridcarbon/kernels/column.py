"""The column plume: vertically integrated Gaussian plumes seen through a retrieval's averaging
kernel, averaged over satellite pixels.

* :func:`plume_depth_wind` — the wind that carries a column plume: the mean of the ISC3
  power-law profile ``u(z) = u10 (z/10)^p`` over the plume depth ``D = max(depth, 2 h)``,
  ``u10 (D/10)^p / (1 + p)``; it does not depend on the mixing height.
* :func:`vertical_kernel_weight` — ``Σ_l A_l w_l``: the fraction ``w_l`` of the plume's
  vertical distribution in each retrieval layer times the kernel value ``A_l`` of that layer.
  The distributions integrate to one over height (no "above the lid → 0"), so with ``A = 1`` the
  weight is 1 whatever the mixing height.
* :func:`point_column` — the column of one source at a point (µg m-2 per kg h-1), inert and
  as NO2 after decay: ``Q/ū · G_y · Σ A_l w_l`` (× ``r(t) e^(-t/τ)`` for NOx, ``t = x/ū``).
* :func:`polygon_lattice_counts` / :func:`polygon_lattice_fill` — the exact overlap of pixel
  polygons with the squares of a lattice (the pixel mean of a field sampled at the squares'
  centres, conserving its integral).
* :func:`area_vertical_tables` — :func:`vertical_kernel_weight` of area sources tabulated
  against downwind distance per pixel; :func:`column_row_fill` — one row of the column operator
  (a superobservation: a mean of pixels) over grid cells and point sources.

The physics is described in :mod:`gridcarbon.inversion.columns`; the plume coefficients are
those of the surface operator (:mod:`gridcarbon.kernels.dispersion`, :mod:`.plume`).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from gridcarbon.kernels.dispersion import (
    briggs_rise,
    sigma_y_rural,
    sigma_y_urban,
    sigma_z_rural,
    sigma_z_urban,
    wind_profile_exponent,
)
from gridcarbon.kernels.plume import _KGH_TO_UGS, _SQ2, _SQ2PI, no2_weight  # shared constants

__all__ = [
    "plume_depth_wind",
    "vertical_kernel_weight",
    "point_column",
    "polygon_lattice_counts",
    "polygon_lattice_fill",
    "area_vertical_tables",
    "column_row_fill",
    "column_rows_fill",
]

#: the stable class whose sigma_z spreads a plume above the lid (the free troposphere)
_FREE_TROPOSPHERE_CLASS = 4


@numba.njit(cache=True)
def plume_depth_wind(u10, k, urban, release_height, depth):
    """Mean wind over the plume depth, m/s.

    Parameters
    ----------
    u10 : float
        10 m wind speed, m/s (already floored at the calm floor).
    k : int
        Stability class, 0..5 for A..F (the ISC3 profile exponent).
    urban : bool
        Urban (True) or rural profile exponent.
    release_height : float
        Effective release height, m.
    depth : float
        Plume depth of a ground-level release, m.

    Returns
    -------
    float
        ``u10 (D/10)^p / (1 + p)`` with ``D = max(depth, 2 release_height)``: the mean of
        ``u10 (z/10)^p`` over ``0 ≤ z ≤ D``.
    """
    d = max(depth, 2.0 * release_height)
    p = wind_profile_exponent(k, urban)
    return u10 * (d / 10.0) ** p / (1.0 + p)


@numba.njit(cache=True)
def _erf(x):
    """``math.erf``, without the call where its value in double precision is ±1 (|x| ≥ 6;
    erf(x) rounds to 1 from x ≈ 5.92): most image terms of a plume are that far."""
    if x >= 6.0:
        return 1.0
    if x <= -6.0:
        return -1.0
    return math.erf(x)


@numba.njit(cache=True)
def _segment(a, b, c, s):
    """∫_a^b of a normal density centred on ``c`` with sd ``s``."""
    if b <= a:
        return 0.0
    return 0.5 * (_erf((b - c) / (_SQ2 * s)) - _erf((a - c) / (_SQ2 * s)))


@numba.njit(cache=True)
def _images_cdf(z, h, s, zi, nimg):
    """Σ over the images ``±h + 2 n zi`` (|n| ≤ nimg) of their normal CDFs at ``z`` (× 2)."""
    c = 0.0
    for n in range(-nimg, nimg + 1):
        c += _erf((z - h - 2.0 * n * zi) / (_SQ2 * s)) + _erf((z + h - 2.0 * n * zi) / (_SQ2 * s))
    return c


@numba.njit(cache=True)
def vertical_kernel_weight(k, h, sz, sz_free, zi, lid_f, z_edges, kernel, nl):
    """Kernel-weighted fraction of a plume's vertical distribution (dimensionless).

    Parameters
    ----------
    k : int
        Stability class, 0..5 for A..F.
    h : float
        Effective release height, m.
    sz : float
        sigma_z of the plume, m.
    sz_free : float
        sigma_z of a plume above the lid (released above ``zi`` in classes A–D), m.
    zi : float
        Mixing height, m.
    lid_f : float
        sigma_z beyond which the mixed-layer plume is uniform below the lid, in mixing heights.
    z_edges : ndarray ``(>= nl + 1,)`` float64
        Layer edges, m above ground, increasing from 0 (``inf`` for a top at zero pressure).
    kernel : ndarray ``(>= nl,)`` float64
        Averaging-kernel value of each layer.
    nl : int
        Layers used.

    Returns
    -------
    float
        ``Σ_l A_l w_l`` where ``w_l`` is the share of the plume in layer ``l``:

        * classes A–D, source below the lid: reflected at the ground and at ``zi`` (images
          ``±h + 2 n zi``), uniform over ``[0, zi]`` once ``sz > lid_f zi``; the shares are
          normalised by the image sum over ``[0, zi]`` so that they add up to 1 exactly;
        * classes A–D, source above the lid: Gaussian of ``sz_free`` around ``h`` reflected at
          ``zi`` (the plume stays above the lid);
        * classes E–F: Gaussian reflected at the ground.
    """
    acc = 0.0
    if k <= 3 and h <= zi:
        if sz > lid_f * zi:
            for layer in range(nl):
                a = z_edges[layer]
                if a >= zi:
                    break
                b = min(z_edges[layer + 1], zi)
                acc += kernel[layer] * (b - a) / zi
            return acc
        nimg = int((zi + h + 8.0 * sz) / (2.0 * zi)) + 1
        full = _images_cdf(zi, h, sz, zi, nimg) - _images_cdf(0.0, h, sz, zi, nimg)
        lower = _images_cdf(0.0, h, sz, zi, nimg)
        for layer in range(nl):
            if z_edges[layer] >= zi:
                break
            upper = _images_cdf(min(z_edges[layer + 1], zi), h, sz, zi, nimg)
            acc += kernel[layer] * (upper - lower)
            lower = upper
        return acc / full
    floor = zi if k <= 3 else 0.0
    s = sz_free if k <= 3 else sz
    for layer in range(nl):
        b = z_edges[layer + 1]
        if b <= floor:
            continue
        a = max(z_edges[layer], floor)
        if a > h + 10.0 * s:
            break
        acc += kernel[layer] * (_segment(a, b, h, s) + _segment(a, b, 2.0 * floor - h, s))
    return acc


@numba.njit(cache=True)
def _point_sigma_y(xs, k, urban, dh, dir_sd):
    """sigma_y (m) of a point plume of rise ``dh`` at ``xs`` m downwind, widened by the rise
    and the wind-direction spread ``dir_sd`` (radians)."""
    sy = _sigma_y(k, xs, urban)
    return math.sqrt(sy * sy + (dh / 3.5) ** 2 + (xs * dir_sd) ** 2)


@numba.njit(cache=True)
def _point_vertical(xs, k, urban, he, dh, zi, lid_f, z_edges, kernel, nl):
    """The kernel-weighted vertical share of a point plume at effective height ``he`` (rise
    ``dh``) at ``xs`` m downwind (:func:`vertical_kernel_weight`)."""
    sz = _sigma_z(k, xs, urban)
    sz = math.sqrt(sz * sz + (dh / 3.5) ** 2)
    szf = _sigma_z(_FREE_TROPOSPHERE_CLASS, xs, urban)
    szf = math.sqrt(szf * szf + (dh / 3.5) ** 2)
    return vertical_kernel_weight(k, he, sz, szf, zi, lid_f, z_edges, kernel, nl)


@numba.njit(cache=True)
def point_column(
    xs,
    ys,
    k,
    urban,
    u10,
    he,
    dh,
    zi,
    lid_f,
    depth,
    dir_sd,
    z_edges,
    kernel,
    nl,
    tau,
    r0,
    req,
    tauc,
):
    """Column of a point source at one place, per unit emission.

    Parameters
    ----------
    xs, ys : float
        Downwind and crosswind distance from the source, m (``xs`` ≥ 1 m).
    k : int
        Stability class, 0..5 for A..F.
    urban : bool
        Briggs urban (True) or ISC3 rural dispersion.
    u10 : float
        10 m wind speed, m/s (floored).
    he, dh : float
        Effective release height and plume rise, m.
    zi : float
        Mixing height, m.
    lid_f, depth, dir_sd : float
        Uniform-below-the-lid threshold (mixing heights), plume depth of a ground release (m),
        wind-direction spread (radians).
    z_edges, kernel, nl
        Retrieval layers (see :func:`vertical_kernel_weight`).
    tau, r0, req, tauc : float
        NOx lifetime (s), NO2/NOx at emission and at equilibrium, conversion time (s).

    Returns
    -------
    tuple of float
        Inert column and NOx seen as NO2 column, µg m-2 per kg h-1 (kernel-weighted).
    """
    sy = _point_sigma_y(xs, k, urban, dh, dir_sd)
    v = _point_vertical(xs, k, urban, he, dh, zi, lid_f, z_edges, kernel, nl)
    u = plume_depth_wind(u10, k, urban, he, depth)
    c = _KGH_TO_UGS * math.exp(-0.5 * (ys / sy) ** 2) / (_SQ2PI * sy) * v / u
    return c, c * no2_weight(xs / u, tau, r0, req, tauc)


# -- pixels on a lattice ---------------------------------------------------------------------------


@numba.njit(cache=True)
def _clip(px, py, n, edge, value, keep_above, ox, oy):
    """One Sutherland–Hodgman step: the polygon ``px, py`` (``n`` vertices) clipped to
    ``x ≥ value`` (edge 0, keep_above) / ``x ≤`` / ``y ≥`` (edge 1) / ``y ≤``; written to
    ``ox, oy``; returns the vertex count."""
    m = 0
    for i in range(n):
        j = (i + 1) % n
        ci = px[i] if edge == 0 else py[i]
        cj = px[j] if edge == 0 else py[j]
        ini = ci >= value if keep_above else ci <= value
        inj = cj >= value if keep_above else cj <= value
        if ini:
            ox[m] = px[i]
            oy[m] = py[i]
            m += 1
        if ini != inj:
            t = (value - ci) / (cj - ci)
            ox[m] = px[i] + t * (px[j] - px[i])
            oy[m] = py[i] + t * (py[j] - py[i])
            m += 1
    return m


@numba.njit(cache=True)
def _area(px, py, n):
    """Absolute shoelace area of a polygon, m²."""
    s = 0.0
    for i in range(n):
        j = (i + 1) % n
        s += px[i] * py[j] - px[j] * py[i]
    return abs(0.5 * s)


@numba.njit(cache=True)
def _overlap(cx, cy, n, xa, xb, ya, yb, b1x, b1y, b2x, b2y):
    """Area of polygon ``cx, cy`` inside the rectangle ``[xa, xb] × [ya, yb]``, m²."""
    m = _clip(cx, cy, n, 0, xa, True, b1x, b1y)
    if m < 3:
        return 0.0
    m = _clip(b1x, b1y, m, 0, xb, False, b2x, b2y)
    if m < 3:
        return 0.0
    m = _clip(b2x, b2y, m, 1, ya, True, b1x, b1y)
    if m < 3:
        return 0.0
    m = _clip(b1x, b1y, m, 1, yb, False, b2x, b2y)
    if m < 3:
        return 0.0
    return _area(b2x, b2y, m)


@numba.njit(cache=True)
def _lattice_range(cx, cy, n, x0, y1, s):
    """Lattice columns and rows a polygon's bounding box touches."""
    xmin, xmax, ymin, ymax = cx[0], cx[0], cy[0], cy[0]
    for i in range(1, n):
        xmin = min(xmin, cx[i])
        xmax = max(xmax, cx[i])
        ymin = min(ymin, cy[i])
        ymax = max(ymax, cy[i])
    return (
        int(math.floor((xmin - x0) / s)),
        int(math.floor((xmax - x0) / s)),
        int(math.floor((y1 - ymax) / s)),
        int(math.floor((y1 - ymin) / s)),
    )


@numba.njit(cache=True)
def polygon_lattice_counts(corner_x, corner_y, n_corners, x0, y1, s):
    """Lattice squares each pixel's bounding box touches (an upper bound of its samples).

    Parameters
    ----------
    corner_x, corner_y : ndarray ``(npix, ncmax)`` float64
        Polygon corners in order, m (grid CRS).
    n_corners : ndarray ``(npix,)`` int64
        Corners used per pixel (3..ncmax).
    x0, y1 : float
        Lattice origin (western and northern grid edges), m.
    s : float
        Lattice spacing, m.

    Returns
    -------
    ndarray ``(npix,)`` int64
    """
    npix = corner_x.shape[0]
    out = np.zeros(npix, np.int64)
    for p in range(npix):
        c0, c1, r0, r1 = _lattice_range(corner_x[p], corner_y[p], n_corners[p], x0, y1, s)
        out[p] = (c1 - c0 + 1) * (r1 - r0 + 1)
    return out


@numba.njit(cache=True)
def polygon_lattice_fill(corner_x, corner_y, n_corners, x0, y1, s, ptr, out_x, out_y, out_w, out_n):
    """Exact overlap of each pixel polygon with the lattice squares: the centre of every square
    it overlaps and the overlap as a fraction of the pixel's area.

    Parameters
    ----------
    corner_x, corner_y, n_corners, x0, y1, s
        As :func:`polygon_lattice_counts`.
    ptr : ndarray ``(npix + 1,)`` int64
        Row starts of the outputs (cumulative :func:`polygon_lattice_counts`).
    out_x, out_y : ndarray ``(ptr[-1],)`` float64
        Square centres, m (written).
    out_w : ndarray ``(ptr[-1],)`` float64
        Overlap / pixel area (written; the weights of one pixel add up to 1).
    out_n : ndarray ``(npix,)`` int64
        Squares written per pixel.

    The mean of a field over a pixel is ``Σ w f(square)``; over a tiling of pixels,
    ``Σ_pixels area × mean`` is the integral of the field taken as constant on each square.
    """
    npix = corner_x.shape[0]
    cap = 4 * corner_x.shape[1] + 16
    b1x = np.empty(cap)
    b1y = np.empty(cap)
    b2x = np.empty(cap)
    b2y = np.empty(cap)
    for p in range(npix):
        n = n_corners[p]
        cx = corner_x[p, :n].copy()
        cy = corner_y[p, :n].copy()
        area = _area(cx, cy, n)
        c0, c1, r0, r1 = _lattice_range(cx, cy, n, x0, y1, s)
        m = 0
        pos = ptr[p]
        for row in range(r0, r1 + 1):
            yb = y1 - row * s
            ya = yb - s
            for col in range(c0, c1 + 1):
                xa = x0 + col * s
                xb = xa + s
                a = _overlap(cx, cy, n, xa, xb, ya, yb, b1x, b1y, b2x, b2y)
                if a <= 0.0:
                    continue
                out_x[pos + m] = xa + 0.5 * s
                out_y[pos + m] = ya + 0.5 * s
                out_w[pos + m] = a / area
                m += 1
        out_n[p] = m


# -- the operator rows -----------------------------------------------------------------------------


@numba.njit(cache=True, parallel=True)
def area_vertical_tables(
    pix_k, pix_zi, h_src, lid_f, z_edges, kernel, n_layers, nodes, out_rural, out_urban
):
    """:func:`vertical_kernel_weight` of an area source (release height ``h_src``) at each
    downwind distance of ``nodes``, per pixel, rural and urban.

    Parameters
    ----------
    pix_k : ndarray ``(npix,)`` int64
        Stability class of each pixel's met.
    pix_zi : ndarray ``(npix,)`` float64
        Mixing height, m.
    h_src, lid_f : float
        Area-source release height, m; uniform-below-the-lid threshold, in mixing heights.
    z_edges : ndarray ``(npix, nlmax + 1)`` float64
        Layer edges per pixel, m above ground (``inf`` beyond the last).
    kernel : ndarray ``(npix, nlmax)`` float64
        Averaging kernel per pixel and layer.
    n_layers : ndarray ``(npix,)`` int64
    nodes : ndarray ``(nn,)`` float64
        Downwind distances, m.
    out_rural, out_urban : ndarray ``(npix, nn)`` float64
        Written.
    """
    for p in numba.prange(pix_k.size):
        for j in range(nodes.size):
            out_rural[p, j] = _area_weight(
                pix_k[p],
                nodes[j],
                False,
                h_src,
                pix_zi[p],
                lid_f,
                z_edges[p],
                kernel[p],
                n_layers[p],
            )
            out_urban[p, j] = _area_weight(
                pix_k[p],
                nodes[j],
                True,
                h_src,
                pix_zi[p],
                lid_f,
                z_edges[p],
                kernel[p],
                n_layers[p],
            )


@numba.njit(cache=True)
def _area_weight(k, xs, urban, h_src, zi, lid_f, z_edges, kernel, nl):
    """:func:`vertical_kernel_weight` of an area source ``xs`` m downwind."""
    sz = _sigma_z(k, xs, urban)
    szf = _sigma_z(_FREE_TROPOSPHERE_CLASS, xs, urban)
    return vertical_kernel_weight(k, h_src, sz, szf, zi, lid_f, z_edges, kernel, nl)


@numba.njit(cache=True)
def _table(tab, lx0, dlx, nn, xs):
    """Linear interpolation in log distance of a row of :func:`area_vertical_tables`."""
    t = (math.log(xs) - lx0) / dlx
    if t <= 0.0:
        return tab[0]
    if t >= nn - 1:
        return tab[nn - 1]
    i = int(t)
    f = t - i
    return tab[i] * (1.0 - f) + tab[i + 1] * f


@numba.njit(cache=True)
def _sigma_y(k, xs, urban):
    """sigma_y of :func:`~gridcarbon.kernels.dispersion.sigmas` alone, m."""
    return sigma_y_urban(k, xs) if urban else sigma_y_rural(k, xs)


@numba.njit(cache=True)
def _sigma_z(k, xs, urban):
    """sigma_z of :func:`~gridcarbon.kernels.dispersion.sigmas` alone, m."""
    return sigma_z_urban(k, xs) if urban else sigma_z_rural(k, xs)


@numba.njit(cache=True)
def _solve_between(a, b, lo, hi):
    """The interval of t with lo ≤ a t + b ≤ hi (empty: lower end above the upper)."""
    if a > 0.0:
        return (lo - b) / a, (hi - b) / a
    if a < 0.0:
        return (hi - b) / a, (lo - b) / a
    if lo <= b <= hi:
        return -np.inf, np.inf
    return np.inf, -np.inf


@numba.njit(cache=True)
def _cone_half_width(k, xd, reach, latk):
    """Crosswind half-width (m) of the cone of :func:`_cell_reaches` for cells whose centre is
    ``xd`` m upwind of the pixel: ``latk`` sigma_y (the wider of rural and urban) at the
    farthest distance within ``reach``, plus ``reach``.  It grows with ``xd`` (as sigma_y
    does), so its value at the far end bounds the whole cone."""
    return latk * max(sigma_y_rural(k, xd + reach), sigma_y_urban(k, xd + reach)) + reach


@numba.njit(cache=True)
def _cone_row_columns(pcx, dcy, ex, ey, reach, rmax, half, x0, cs, c0, c1):
    """The columns ``[first, end)`` within ``[c0, c1)`` of one grid row whose cells a
    rectangle crosses: crosswind half-width ``half`` (:func:`_cone_half_width` at the far end),
    along the wind from −reach to rmax + reach, seen from a pixel centred ``pcx`` m east and
    ``dcy`` m north of the row's centres; each band a metre wider and a cell more on each side,
    so that rounding never drops a cell :func:`_cell_reaches` keeps."""
    # dcx such that −reach ≤ dcx ex + dcy ey ≤ rmax + reach and |dcy ex − dcx ey| ≤ half
    lo0, hi0 = _solve_between(ex, dcy * ey, -reach - 1.0, rmax + reach + 1.0)
    lo1, hi1 = _solve_between(-ey, dcy * ex, -half - 1.0, half + 1.0)
    lo = max(lo0, lo1)
    hi = min(hi0, hi1)
    if hi < lo:
        return c0, c0
    # dcx = pcx − (x0 + (col + 0.5) cs): the columns of dcx in [lo, hi]
    first = max((pcx - x0 - hi) / cs - 1.5, c0)
    last = min((pcx - x0 - lo) / cs + 0.5, c1 - 1)
    if last < first:
        return c0, c0
    return int(first), int(last) + 1


@numba.njit(cache=True)
def _cell_reaches(dx, dy, ex, ey, R, reach, k, latk):
    """Whether sources within ``reach`` m of a point (dx, dy) upwind of a pixel centre can reach
    the pixel within the truncation."""
    xd = dx * ex + dy * ey
    yd = -dx * ey + dy * ex
    if xd < -reach or xd > R + reach:
        return False
    return abs(yd) <= _cone_half_width(k, xd, reach, latk)


@numba.njit(cache=True)
def _area_unit(dx, dy, ex, ey, k, is_urban, w, latk, rmax, tab, lx0, dlx, u, tau, r0, req, tauc):
    """Column at a sample (dx, dy) m from an area sub-source of width ``w`` m, per unit of the
    sample's weight and of ``_KGH_TO_UGS``: inert, and NOx as NO2 (0, 0 beyond the
    truncation)."""
    xs = dx * ex + dy * ey
    if xs < 1.0 or xs > rmax:
        return 0.0, 0.0
    ys = -dx * ey + dy * ex
    sy = _sigma_y(k, xs, is_urban)
    lim = latk * sy
    a = max(ys - 0.5 * w, -lim)
    b = min(ys + 0.5 * w, lim)
    if b <= a:
        return 0.0, 0.0
    lat = (math.erf(b / (_SQ2 * sy)) - math.erf(a / (_SQ2 * sy))) / (2.0 * w)
    v = lat * _table(tab, lx0, dlx, tab.size, xs) / u
    return v, v * no2_weight(xs / u, tau, r0, req, tauc)


@numba.njit(cache=True)
def column_row_fill(
    pix,
    samp_ptr,
    samp_x,
    samp_y,
    samp_w,
    samp_half,
    pix_cx,
    pix_cy,
    pix_reach,
    pix_u10,
    pix_ex,
    pix_ey,
    pix_k,
    pix_zi,
    pix_tau,
    pix_tamb,
    pix_uplume,
    tab_rural,
    tab_urban,
    lx0,
    dlx,
    z_edges,
    kernel,
    n_layers,
    x0,
    y1,
    cs,
    nx,
    ny,
    urban,
    nsub,
    near_m,
    h_src,
    lid_f,
    depth,
    rmax,
    latk,
    px,
    py,
    ph,
    pdiam,
    pvel,
    ptemp,
    purban,
    dir_sd,
    r0,
    req,
    tauc,
    acc,
    accn,
    pacc,
    paccn,
):
    """One row of the column operator: the weighted mean column of the pixels ``pix``, per unit
    emission of every grid cell and every point source.

    Parameters
    ----------
    pix : ndarray int64
        The pixels of the row.
    samp_ptr, samp_x, samp_y, samp_w : ndarrays
        Lattice samples of every pixel (CSR over pixels): centres (m) and weights (the pixel's
        overlap fraction times its weight in the row times its unit conversion).
    samp_half : float
        Half the lattice spacing, m (the crosswind half-width of a sample for point sources).
    pix_cx, pix_cy, pix_reach : ndarray ``(npix,)`` float64
        Pixel centre and the largest distance of its samples from it, m.
    pix_u10, pix_ex, pix_ey, pix_k, pix_zi, pix_tau, pix_tamb : ndarray ``(npix,)``
        Met of each pixel: 10 m wind (floored, m/s), the unit vector it blows towards,
        stability class, mixing height (m), NOx lifetime (s), 2 m temperature (K).
    pix_uplume : ndarray ``(npix,)`` float64
        The wind that carries every plume of the pixel, m/s, in place of the plume-depth
        wind of the ISC3 profile (:func:`plume_depth_wind`) where > 0; 0: the profile's.  The
        stacks' rise still uses the 10 m wind.
    tab_rural, tab_urban : ndarray ``(npix, nn)`` float64
        :func:`area_vertical_tables`; ``lx0``, ``dlx`` the log of its first node and its step.
    z_edges, kernel, n_layers
        Retrieval layers per pixel (:func:`area_vertical_tables`).
    x0, y1, cs, nx, ny
        Grid: western and northern edges (m), cell edge (m), columns, rows.
    urban : ndarray ``(ny * nx,)`` bool
        Cells with Briggs urban dispersion.
    nsub : int
        Sub-cells per cell edge of an area source whose centre is within ``near_m`` m downwind
        or upwind of the pixel; farther cells are one source at their centre.
    near_m : float
        See ``nsub``, m.
    h_src, lid_f, depth : float
        Area-source height (m), uniform-below-the-lid threshold (mixing heights), plume depth
        of a ground release (m).
    rmax, latk : float
        Downwind truncation (m) and lateral truncation (sigma_y).
    px, py, ph, pdiam, pvel, ptemp : ndarray ``(npt,)`` float64
        Point sources: position (m), stack height and diameter (m), exit velocity (m/s) and
        temperature (K); ``purban`` bool.
    dir_sd : float
        Wind-direction spread of point plumes, radians.
    r0, req, tauc : float
        NO2/NOx at emission and at equilibrium, conversion time (s).
    acc, accn : ndarray ``(ny * nx,)`` float64
        Inert and NOx-as-NO2 sensitivity to each cell (added to).
    pacc, paccn : ndarray ``(npt,)`` float64
        The same for point sources (added to).

    Sensitivities are in the samples' unit per kg h-1 (µg m-2 per kg h-1 times the
    samples' conversion).
    """
    hd = cs * 0.7072
    sp_ = 2.0 * samp_half  # the lattice of the samples: cs / m
    m = int(round(cs / sp_))
    for p in pix:
        u10 = pix_u10[p]
        ex = pix_ex[p]
        ey = pix_ey[p]
        k = pix_k[p]
        tau = pix_tau[p]
        reach = pix_reach[p] + hd
        c0 = max(int((pix_cx[p] - rmax - reach - x0) / cs), 0)
        c1 = min(int((pix_cx[p] + rmax + reach - x0) / cs) + 1, nx)
        w0 = max(int((y1 - (pix_cy[p] + rmax + reach)) / cs), 0)
        w1 = min(int((y1 - (pix_cy[p] - rmax - reach)) / cs) + 1, ny)
        u_rural = plume_depth_wind(u10, k, False, h_src, depth)
        u_urban = plume_depth_wind(u10, k, True, h_src, depth)
        if pix_uplume[p] > 0.0:
            u_rural = pix_uplume[p]
            u_urban = pix_uplume[p]
        # The samples sit on a lattice of cs/m and the (sub-)sources on one of cs/ns, so a
        # sample's offset from a source is one of a lattice of offsets (cs/(m ns)): the column
        # of each offset is computed once per pixel (and width class, rural/urban) and looked up.
        q0 = samp_ptr[p]
        nq = samp_ptr[p + 1] - q0
        if nq == 0:
            continue
        sc = np.empty(nq, np.int64)
        sr = np.empty(nq, np.int64)
        for t in range(nq):
            sc[t] = int(round((samp_x[q0 + t] - x0) / sp_ - 0.5))
            sr[t] = int(round((y1 - samp_y[q0 + t]) / sp_ - 0.5))
        sc_min, sc_max = sc.min(), sc.max()
        sr_min, sr_max = sr.min(), sr.max()
        # far cells: one source at the cell centre; offset keys kx = sc − m col and
        # ky = m (row + 1) − sr, offset ((kx + (1 − m)/2) sp_, (ky − (1 + m)/2) sp_)
        fx0 = sc_min - m * (c1 - 1)
        fy0 = m * (w0 + 1) - sr_max
        fnx = max(sc_max - m * c0 - fx0 + 1, 1)
        fny = max(m * w1 - sr_min - fy0 + 1, 1)
        far_v = np.empty((2, fnx, fny, 2))
        far_set = np.zeros((2, fnx, fny), np.bool_)
        # near cells (ns sub-sources of cs/ns): keys kx = ns sc − m (ns col + i) and
        # ky = m ns (row + 1) − ns sr − m j, offset ((kx + (ns − m)/2) g, (ky − (ns + m)/2) g),
        # g = cs/(m ns), over the cells within reach of the near band (others: computed)
        ns_n = nsub
        g_n = cs / (m * ns_n)
        near_lat = latk * max(
            sigma_y_rural(k, near_m + 2 * reach), sigma_y_urban(k, near_m + 2 * reach)
        )
        near_r = math.hypot(near_m + reach, near_lat + reach) + hd
        nc0 = max(int((pix_cx[p] - near_r - x0) / cs), c0)
        nc1 = min(int((pix_cx[p] + near_r - x0) / cs) + 1, c1)
        nw0 = max(int((y1 - (pix_cy[p] + near_r)) / cs), w0)
        nw1 = min(int((y1 - (pix_cy[p] - near_r)) / cs) + 1, w1)
        nx0 = ns_n * sc_min - m * (ns_n * (nc1 - 1) + ns_n - 1)
        ny0 = m * ns_n * (nw0 + 1) - ns_n * sr_max - m * (ns_n - 1)
        nnx = max(ns_n * sc_max - m * ns_n * nc0 - nx0 + 1, 1)
        nny = max(m * ns_n * nw1 - ns_n * sr_min - ny0 + 1, 1)
        near_v = np.empty((2, nnx, nny, 2))
        near_set = np.zeros((2, nnx, nny), np.bool_)
        half = _cone_half_width(k, rmax + reach, reach, latk)
        for row in range(w0, w1):
            sy_ = y1 - (row + 0.5) * cs
            dcy = pix_cy[p] - sy_
            first, end = _cone_row_columns(
                pix_cx[p], dcy, ex, ey, reach, rmax, half, x0, cs, c0, c1
            )
            for col in range(first, end):
                sx_ = x0 + (col + 0.5) * cs
                dcx = pix_cx[p] - sx_
                if not _cell_reaches(dcx, dcy, ex, ey, rmax, reach, k, latk):
                    continue
                ns = nsub if abs(dcx * ex + dcy * ey) <= near_m + reach else 1
                w = cs / ns
                cell = row * nx + col
                is_urban = urban[cell]
                iu = 1 if is_urban else 0
                u = u_urban if is_urban else u_rural
                tab = tab_urban[p] if is_urban else tab_rural[p]
                a_sum = 0.0
                n_sum = 0.0
                if ns == 1:
                    for t in range(nq):
                        kx = sc[t] - m * col - fx0
                        ky = m * (row + 1) - sr[t] - fy0
                        if not far_set[iu, kx, ky]:
                            va, vn = _area_unit(
                                (kx + fx0 + 0.5 * (1 - m)) * sp_,
                                (ky + fy0 - 0.5 * (1 + m)) * sp_,
                                ex, ey, k, is_urban, w, latk, rmax, tab, lx0, dlx, u, tau,
                                r0, req, tauc,
                            )  # fmt: skip
                            far_v[iu, kx, ky, 0] = va
                            far_v[iu, kx, ky, 1] = vn
                            far_set[iu, kx, ky] = True
                        a_sum += samp_w[q0 + t] * far_v[iu, kx, ky, 0]
                        n_sum += samp_w[q0 + t] * far_v[iu, kx, ky, 1]
                else:
                    for i in range(ns):
                        for j in range(ns):
                            for t in range(nq):
                                kx = ns * sc[t] - m * (ns * col + i)
                                ky = m * ns * (row + 1) - ns * sr[t] - m * j
                                ix = kx - nx0
                                iy = ky - ny0
                                if 0 <= ix < nnx and 0 <= iy < nny:
                                    if not near_set[iu, ix, iy]:
                                        va, vn = _area_unit(
                                            (kx + 0.5 * (ns - m)) * g_n,
                                            (ky - 0.5 * (ns + m)) * g_n,
                                            ex, ey, k, is_urban, w, latk, rmax, tab, lx0, dlx,
                                            u, tau, r0, req, tauc,
                                        )  # fmt: skip
                                        near_v[iu, ix, iy, 0] = va
                                        near_v[iu, ix, iy, 1] = vn
                                        near_set[iu, ix, iy] = True
                                    va = near_v[iu, ix, iy, 0]
                                    vn = near_v[iu, ix, iy, 1]
                                else:
                                    va, vn = _area_unit(
                                        (kx + 0.5 * (ns - m)) * g_n,
                                        (ky - 0.5 * (ns + m)) * g_n,
                                        ex, ey, k, is_urban, w, latk, rmax, tab, lx0, dlx, u,
                                        tau, r0, req, tauc,
                                    )  # fmt: skip
                                a_sum += samp_w[q0 + t] * va
                                n_sum += samp_w[q0 + t] * vn
                if a_sum > 0.0:
                    scale = _KGH_TO_UGS / (ns * ns)
                    acc[cell] += a_sum * scale
                    accn[cell] += n_sum * scale
        for s in range(px.size):
            dcx = pix_cx[p] - px[s]
            dcy = pix_cy[p] - py[s]
            xd = dcx * ex + dcy * ey
            if xd < -pix_reach[p] or xd > rmax + pix_reach[p]:
                continue
            us = u10 * (max(ph[s], 10.0) / 10.0) ** wind_profile_exponent(k, purban[s])
            dh = briggs_rise(k, us, ph[s], pdiam[s], pvel[s], ptemp[s], pix_tamb[p])
            he = ph[s] + dh
            # no sample of the pixel within the lateral truncation: skip the source
            far = max(xd + pix_reach[p], 1.0)
            sy_far = _sigma_y(k, far, purban[s])
            sy_far = math.sqrt(sy_far * sy_far + (dh / 3.5) ** 2 + (far * dir_sd) ** 2)
            if abs(-dcx * ey + dcy * ex) > latk * sy_far + pix_reach[p] + samp_half:
                continue
            # the plume-depth wind does not depend on the distance; the vertical share is
            # the costly part, computed only for samples within the lateral truncation
            u = plume_depth_wind(u10, k, purban[s], he, depth)
            if pix_uplume[p] > 0.0:
                u = pix_uplume[p]
            for q in range(samp_ptr[p], samp_ptr[p + 1]):
                dx = samp_x[q] - px[s]
                dy = samp_y[q] - py[s]
                xs = dx * ex + dy * ey
                if xs < 1.0 or xs > rmax:
                    continue
                ys = -dx * ey + dy * ex
                sy = _point_sigma_y(xs, k, purban[s], dh, dir_sd)
                lim = latk * sy
                a = max(ys - samp_half, -lim)
                b = min(ys + samp_half, lim)
                if b <= a:
                    continue
                v = _point_vertical(
                    xs, k, purban[s], he, dh, pix_zi[p], lid_f, z_edges[p], kernel[p], n_layers[p]
                )
                lat = (math.erf(b / (_SQ2 * sy)) - math.erf(a / (_SQ2 * sy))) / (4.0 * samp_half)
                c = _KGH_TO_UGS * samp_w[q] * lat * v / u
                pacc[s] += c
                paccn[s] += c * no2_weight(xs / u, pix_tau[p], r0, req, tauc)


@numba.njit(cache=True, parallel=True)
def column_rows_fill(
    row_ptr,
    row_pix,
    samp_ptr,
    samp_x,
    samp_y,
    samp_w,
    samp_half,
    pix_cx,
    pix_cy,
    pix_reach,
    pix_u10,
    pix_ex,
    pix_ey,
    pix_k,
    pix_zi,
    pix_tau,
    pix_tamb,
    pix_uplume,
    tab_rural,
    tab_urban,
    lx0,
    dlx,
    z_edges,
    kernel,
    n_layers,
    x0,
    y1,
    cs,
    nx,
    ny,
    urban,
    nsub,
    near_m,
    h_src,
    lid_f,
    depth,
    rmax,
    latk,
    px,
    py,
    ph,
    pdiam,
    pvel,
    ptemp,
    purban,
    dir_sd,
    r0,
    req,
    tauc,
    acc,
    accn,
    pacc,
    paccn,
):
    """:func:`column_row_fill` of several rows in parallel.

    Parameters
    ----------
    row_ptr : ndarray ``(nrow + 1,)`` int64
        Start of each row's pixels in ``row_pix``.
    row_pix : ndarray int64
        The pixels of the rows, row after row.
    acc, accn : ndarray ``(nrow, ny * nx)`` float64
        Per row, as :func:`column_row_fill` (added to).
    pacc, paccn : ndarray ``(nrow, npt)`` float64
        Per row, as :func:`column_row_fill` (added to).

    The other parameters are those of :func:`column_row_fill`.
    """
    for r in numba.prange(row_ptr.size - 1):
        column_row_fill(
            row_pix[row_ptr[r] : row_ptr[r + 1]],
            samp_ptr,
            samp_x,
            samp_y,
            samp_w,
            samp_half,
            pix_cx,
            pix_cy,
            pix_reach,
            pix_u10,
            pix_ex,
            pix_ey,
            pix_k,
            pix_zi,
            pix_tau,
            pix_tamb,
            pix_uplume,
            tab_rural,
            tab_urban,
            lx0,
            dlx,
            z_edges,
            kernel,
            n_layers,
            x0,
            y1,
            cs,
            nx,
            ny,
            urban,
            nsub,
            near_m,
            h_src,
            lid_f,
            depth,
            rmax,
            latk,
            px,
            py,
            ph,
            pdiam,
            pvel,
            ptemp,
            purban,
            dir_sd,
            r0,
            req,
            tauc,
            acc[r],
            accn[r],
            pacc[r],
            paccn[r],
        )


@numba.njit(cache=True, parallel=True)
def rows_nonzero(acc, accn, nrow):
    """The non-zero entries of the first ``nrow`` rows of ``acc``, and ``accn`` at the same
    places, row after row (CSR): ``np.flatnonzero`` of each row, in parallel over rows.

    Returns
    -------
    ptr : ndarray ``(nrow + 1,)`` int64
    idx : ndarray int64
        Column of each entry, increasing within a row.
    val, valn : ndarray float64
        ``acc`` and ``accn`` there.
    """
    counts = np.zeros(nrow, np.int64)
    for r in numba.prange(nrow):
        c = 0
        for j in range(acc.shape[1]):
            if acc[r, j] != 0.0:
                c += 1
        counts[r] = c
    ptr = np.zeros(nrow + 1, np.int64)
    ptr[1:] = np.cumsum(counts)
    idx = np.empty(ptr[-1], np.int64)
    val = np.empty(ptr[-1])
    valn = np.empty(ptr[-1])
    for r in numba.prange(nrow):
        q = ptr[r]
        for j in range(acc.shape[1]):
            if acc[r, j] != 0.0:
                idx[q] = j
                val[q] = acc[r, j]
                valn[q] = accn[r, j]
                q += 1
    return ptr, idx, val, valn
