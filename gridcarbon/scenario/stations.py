"""The embedded default monitoring network (SYNTHETIC, labelled so).

It mirrors the network the province describes (DESIGN §6): a background station at Damingshan
(Lin'an, Hangzhou), a provincial demonstration station, 10 regional greenhouse-gas stations,
17 high-precision urban stations and 5 carbon-sink stations in the pilot cities Hangzhou, Ningbo
and Lishui, and about 80 low-cost micro stations.  Locations are placed deterministically near
the named places; they are **not** the real sites, and no value measured at them is real.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["default_network", "STATION_COLUMNS"]

STATION_COLUMNS = ("station_id", "name", "lon", "lat", "height", "kind", "species")

# (id, name, lon, lat, inlet height m)
_BACKGROUND = [("BG01", "Damingshan background (Lin'an, Hangzhou)", 119.020, 30.030, 10.0)]
_DEMO = [
    ("DM01", "Provincial carbon-monitoring demonstration station (Hangzhou)", 120.155, 30.265, 60.0)
]
_REGIONAL = [
    ("RG01", "Jiaxing regional GHG station", 120.760, 30.750, 50.0),
    ("RG02", "Huzhou (Anji) regional GHG station", 119.680, 30.640, 50.0),
    ("RG03", "Shaoxing regional GHG station", 120.580, 30.000, 50.0),
    ("RG04", "Ningbo (Yuyao) regional GHG station", 121.150, 30.040, 50.0),
    ("RG05", "Zhoushan regional GHG station", 122.200, 29.990, 50.0),
    ("RG06", "Taizhou regional GHG station", 121.420, 28.660, 50.0),
    ("RG07", "Wenzhou regional GHG station", 120.700, 28.000, 50.0),
    ("RG08", "Jinhua regional GHG station", 119.650, 29.080, 50.0),
    ("RG09", "Quzhou regional GHG station", 118.870, 28.940, 50.0),
    ("RG10", "Lishui regional GHG station", 119.920, 28.450, 50.0),
]
_CITY_CENTRES = {
    "Hangzhou": (120.170, 30.270),
    "Ningbo": (121.550, 29.870),
    "Lishui": (119.920, 28.460),
}
_URBAN_COUNTS = {"Hangzhou": 8, "Ningbo": 6, "Lishui": 3}
_SINKS = [
    ("SK01", "Qiandao Lake forest sink station (Chun'an, Hangzhou)", 119.040, 29.610, 20.0),
    ("SK02", "Siming Mountain forest sink station (Ningbo)", 121.100, 29.720, 20.0),
    ("SK03", "Longquan forest sink station (Lishui)", 119.140, 28.070, 20.0),
    ("SK04", "Qingyuan forest sink station (Lishui)", 119.060, 27.620, 20.0),
    ("SK05", "Jingning forest sink station (Lishui)", 119.640, 27.980, 20.0),
]
_MICRO_SHARE = {"Hangzhou": 0.5, "Ningbo": 0.35, "Lishui": 0.15}

SPECIES_BY_KIND = {
    "background": "CO2,NO2",
    "demonstration": "CO2,NO2,VOC",
    "regional": "CO2,NO2",
    "urban": "CO2,NO2,VOC",
    "sink": "CO2",
    "micro": "CO2,NO2",
}


def _ring(rng: np.random.Generator, centre: tuple[float, float], n: int, r_km: float):
    """``n`` deterministic positions within ``r_km`` of ``centre`` (uniform in area)."""
    lon0, lat0 = centre
    r = r_km * np.sqrt(rng.uniform(0.02, 1.0, n))
    a = rng.uniform(0, 2 * np.pi, n)
    dlat = r * np.sin(a) / 111.2
    dlon = r * np.cos(a) / (111.2 * np.cos(np.radians(lat0)))
    return lon0 + dlon, lat0 + dlat


def default_network(n_micro: int = 82, seed: int = 20230) -> pd.DataFrame:
    """The synthetic default network.

    Parameters
    ----------
    n_micro : int
        Number of low-cost micro stations (spread over Hangzhou, Ningbo and Lishui).
    seed : int
        Seed of the placement of urban and micro stations.

    Returns
    -------
    DataFrame
        ``station_id``, ``name``, ``lon``, ``lat`` (degrees), ``height`` (inlet height above
        ground, m), ``kind``, ``species`` (comma-separated: CO2, NO2, VOC), ``synthetic`` (True).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for kind, table in (
        ("background", _BACKGROUND),
        ("demonstration", _DEMO),
        ("regional", _REGIONAL),
    ):
        for sid, name, lon, lat, h in table:
            rows.append((sid, name, lon, lat, h, kind))
    k = 1
    for city, n in _URBAN_COUNTS.items():
        lons, lats = _ring(rng, _CITY_CENTRES[city], n, 12.0)
        for i in range(n):
            rows.append(
                (
                    f"UR{k:02d}",
                    f"{city} urban high-precision station #{i + 1}",
                    float(lons[i]),
                    float(lats[i]),
                    30.0,
                    "urban",
                )
            )
            k += 1
    for sid, name, lon, lat, h in _SINKS:
        rows.append((sid, name, lon, lat, h, "sink"))
    counts = {c: int(round(n_micro * s)) for c, s in _MICRO_SHARE.items()}
    counts["Hangzhou"] += n_micro - sum(counts.values())
    k = 1
    for city, n in counts.items():
        lons, lats = _ring(rng, _CITY_CENTRES[city], n, 25.0)
        for i in range(n):
            rows.append(
                (
                    f"MC{k:03d}",
                    f"{city} micro station #{i + 1}",
                    float(lons[i]),
                    float(lats[i]),
                    10.0,
                    "micro",
                )
            )
            k += 1
    df = pd.DataFrame(rows, columns=["station_id", "name", "lon", "lat", "height", "kind"])
    df["species"] = df["kind"].map(SPECIES_BY_KIND)
    df["synthetic"] = True
    return df
