"""The wind that carries the simulated TROPOMI columns against the column operator's — SYNTHETIC.

The OSSE's synthetic TROPOMI writer (:mod:`gridcarbon.scenario.satellite_synthetic`) carries
every cell's NOx with one wind per overpass: 1.4 × the mean 10 m wind vector over the grid,
at least 1.5 m s⁻¹.  The column operator (:mod:`gridcarbon.inversion.columns`) uses each
pixel's own 10 m wind and stability class, raised to the mean over the plume depth (500 m for
a ground-level release) by the ISC3 power-law profile, whose exponent is larger over urban
cells.  A column enhancement scales as 1/wind, so the ratio of the two winds is the factor by
which the operator's columns fall short of the truth's for the same emissions.

For each day of a month of the default scenario, at the TROPOMI overpass (05:30 UTC), over the
meteorology's grid points: the share of the stability classes, the median angle between the
local and the domain-mean wind, the ratio of the domain-mean vector's length to the mean speed,
and the median ratio of the operator's plume-depth wind (rural and urban exponents) to the
writer's wind; and the scale at which a direction error moves an NO2 plume (the NOx e-folding
length at the operator's wind, turned by the a-priori direction error).

Usage:
    python benchmarks/column_wind_check.py [--month 1]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from gridcarbon.config import RunConfig
from gridcarbon.inversion.meteorology import met_at_points
from gridcarbon.kernels.column import plume_depth_wind
from gridcarbon.pipeline import default_scenario

#: The writer's scaling of the domain-mean 10 m wind to the mixed layer, and its floor (m s-1)
#: (``satellite_synthetic._overpass_met``).
WRITER_FACTOR, WRITER_FLOOR = 1.4, 1.5
#: The operator's plume depth of a ground-level release, m (``ColumnSettings.plume_depth_m``).
PLUME_DEPTH_M = 500.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--month", type=int, default=1, help="month of 2023")
    args = ap.parse_args()
    start = pd.Timestamp(f"2023-{args.month:02d}-01")
    end = start + pd.offsets.MonthEnd(0)
    config = RunConfig.validate_dict(
        {"period": {"start": str(start.date()), "end": str(end.date())}}
    )
    met = default_scenario(config).meteorology
    classes, angles, lengths, rural, urban, speeds = [], [], [], [], [], []
    for day in pd.date_range(start, end, freq="D"):
        ds = met.for_hours(pd.date_range(day, periods=24, freq="h"))
        lon, lat = (a.ravel() for a in np.meshgrid(ds["lon"].values, ds["lat"].values))
        when = day + pd.Timedelta(hours=5, minutes=30)
        pm = met_at_points(ds, pd.DatetimeIndex([when]), lon, lat)
        hour = ds.sel(time=when.floor("h"), method="nearest")
        u, v = hour["u10"].values.ravel(), hour["v10"].values.ravel()
        mean = complex(u.mean(), v.mean())
        angles.append(np.median(np.degrees(np.abs(np.angle((u + 1j * v) / mean)))))
        lengths.append(abs(mean) / np.hypot(u, v).mean())
        writer = max(WRITER_FACTOR * abs(mean), WRITER_FLOOR)
        k = pm.stability[0].astype(int)
        classes.append(k)
        for is_urban, out in ((False, rural), (True, urban)):
            wind = [
                plume_depth_wind(s, int(c), is_urban, 0.0, PLUME_DEPTH_M)
                for s, c in zip(pm.speed[0], k, strict=True)
            ]
            out.append(np.median(wind) / writer)
            speeds.append(np.median(wind))
    k = np.concatenate(classes)
    share = np.bincount(k, minlength=6) / k.size
    print(f"2023-{args.month:02d}, overpass 05:30 UTC, {len(angles)} days, {lon.size} grid points")
    print(
        "stability classes A–F: "
        + ", ".join(f"{c} {s:.2f}" for c, s in zip("ABCDEF", share, strict=True))
    )
    print(
        f"local vs domain-mean direction, median over days of the daily median: "
        f"{np.median(angles):.0f}° (days {min(angles):.0f}–{max(angles):.0f}°)"
    )
    print(
        f"|domain-mean vector| / mean speed: {np.median(lengths):.2f} (days {min(lengths):.2f}–{max(lengths):.2f})"
    )
    # the scale a direction error moves a plume at: its NOx e-folding length u·τ at the
    # operator's plume-depth wind, turned by the a-priori direction error
    tau_h = config.inversion.chemistry.nox_lifetime_day_h
    turn = config.inversion.errors.model_error_wind_direction_deg
    u = np.median(speeds)
    length_km = u * tau_h * 3.6
    print(
        f"operator's plume-depth wind, median over days and exponents: {u:.1f} m s-1; NOx "
        f"e-folding length u·τ (τ {tau_h:g} h): {length_km:.0f} km; a {turn:g}° turn moves "
        f"the plume there by {length_km * np.sin(np.radians(turn)):.0f} km across the wind"
    )
    for name, r in (("rural", rural), ("urban", urban)):
        print(
            f"operator's plume-depth wind / writer's wind, {name} exponent: median "
            f"{np.median(r):.2f} (days {min(r):.2f}–{max(r):.2f})"
        )


if __name__ == "__main__":
    main()
