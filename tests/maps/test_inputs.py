"""The adapters that turn other stages' objects into what the map draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fixtures import small_grid, small_hotspots, small_prior

from gridcarbon.errors import InputDataError
from gridcarbon.grids.dataset import total_grid
from gridcarbon.maps.inputs import (
    hotspot_cells,
    period_mean,
    station_frame,
    station_statistics,
    uncertainty_reduction,
    unit_frame,
    unit_series_tables,
)


def test_period_mean_matches_total_grid(small):
    for sp in ("CO2", "NOx", "VOC"):
        ref = total_grid(small["prior"], sp).mean("time", dtype=np.float64).values
        np.testing.assert_allclose(period_mean(small["prior"], sp), ref, rtol=1e-6)
    # the point sources are in: cell (3, 4) holds P1
    area = small["prior"]["CO2"].mean("time").values[3, 4]
    assert period_mean(small["prior"], "CO2")[3, 4] == pytest.approx(area + 5e5, rel=1e-6)


def test_uncertainty_reduction_forms(small):
    post = small["posterior"]
    ur = uncertainty_reduction(post, "CO2")
    expect = 1 - np.linspace(0.5, 0.1, post.sizes["x"]) / 0.5
    np.testing.assert_allclose(ur[0], expect)
    # given directly
    p2 = post.copy()
    p2["NOx_uncertainty_reduction"] = (("y", "x"), np.full(ur.shape, 0.3))
    assert np.allclose(uncertainty_reduction(p2, "NOx"), 0.3)
    # σ_prior from the prior Dataset, time-resolved σ_post averaged as RMS, σ_prior = 0 → NaN
    prior = small["prior"].copy()
    prior["VOC_std"] = (
        ("y", "x"),
        np.where(np.arange(post.sizes["x"]) == 0, 0.0, 2.0)[None].repeat(post.sizes["y"], 0),
    )
    p3 = post.drop_vars(["VOC_prior_std", "VOC_std"])
    p3["VOC_std"] = (
        ("time", "y", "x"),
        np.ones((post.sizes["time"], post.sizes["y"], post.sizes["x"])),
    )
    got = uncertainty_reduction(p3, "VOC", prior)
    assert np.isnan(got[:, 0]).all() and np.allclose(got[:, 1:], 0.5)
    assert uncertainty_reduction(small["prior"], "CO2") is None


def test_hotspot_cells_counts_and_confidence():
    grid = small_grid()
    cells = hotspot_cells(small_hotspots(grid, steps=5), grid)
    co = cells[cells["kind"] == "CO2+NOx+VOC"]
    assert sorted(zip(co["row"], co["col"], strict=True)) == [(2, 2), (2, 3), (3, 2), (3, 3)]
    assert (co["n_steps"] == 5).all() and (co["confidence"] == "99%").all()
    assert (co["share"] == 1.0).all()
    pair = cells[cells["kind"] == "CO2+NOx"]
    assert len(pair) == 1 and pair.iloc[0][["row", "col", "n_steps", "n_95"]].tolist() == [
        8,
        10,
        3,
        3,
    ]
    assert pair.iloc[0]["confidence"] == "95%"
    # the co-located block is not counted again as pairs; the cold spot is not a hotspot
    assert set(cells["kind"]) == {"CO2+NOx+VOC", "CO2+NOx"}
    assert not ((cells["row"] == 0) & (cells["col"] == 0)).any()


def test_hotspot_confidence_is_the_weakest_species():
    t = pd.date_range("2023-01-01", periods=3, freq="D")
    b = {sp: np.zeros((3, 3, 4), np.int8) for sp in ("CO2", "NOx", "VOC")}
    b["CO2"][:, 1, 1] = 3
    b["NOx"][:, 1, 1] = [3, 2, 1]
    b["VOC"][:, 1, 1] = [1, 1, 3]
    ds = xr.Dataset(
        {f"{sp}_gi_bin": (("time", "y", "x"), v) for sp, v in b.items()}, coords={"time": t}
    )
    c = hotspot_cells(ds).iloc[0]
    assert (c.n_99, c.n_95, c.n_90, c.n_steps) == (0, 0, 3, 3)
    # a species dimension works too, and a flag-only Dataset gives unknown confidence
    stacked = xr.concat([ds[f"{sp}_gi_bin"] for sp in b], dim="species").assign_coords(
        species=list(b)
    )
    assert hotspot_cells(xr.Dataset({"gi_bin": stacked})).iloc[0].n_steps == 3
    flag = xr.Dataset({"colocated": (("y", "x"), np.eye(3, 4, dtype=bool))})
    got = hotspot_cells(flag)
    assert len(got) == 3 and (got["confidence"] == "unknown").all()
    with pytest.raises(InputDataError):
        hotspot_cells(xr.Dataset({"z": (("y", "x"), np.zeros((2, 2)))}))


def test_station_statistics_against_numpy():
    rng = np.random.default_rng(3)
    o = rng.normal(420, 5, 50)
    pr = o + rng.normal(3, 2, 50)
    po = o + rng.normal(0.5, 1, 50)
    df = pd.DataFrame(
        {
            "station_id": "S1",
            "species": "CO2",
            "observed": o,
            "prior": pr,
            "posterior": po,
            "unit": "ppm",
        }
    )
    df.loc[0, "observed"] = np.nan  # ignored
    s = station_statistics(df).iloc[0]
    o1, pr1, po1 = o[1:], pr[1:], po[1:]
    assert s.n == 49 and s.unit == "ppm"
    assert s.bias_prior == pytest.approx((pr1 - o1).mean())
    assert s.rmse_posterior == pytest.approx(np.sqrt(((po1 - o1) ** 2).mean()))
    assert s.r_prior == pytest.approx(np.corrcoef(pr1, o1)[0, 1])
    with pytest.raises(InputDataError):
        station_statistics(df.drop(columns=["prior"]))


def test_unit_series_forms(small):
    ds = small["unit_series"]
    t = unit_series_tables(ds)
    assert list(t["hour"]) == ["colocated_hotspot_hours", "CO2"]
    assert t["hour"]["CO2"].shape == (4, 24) and t["hour"]["CO2"].attrs["units"] == "kg h-1"
    assert list(t["month"]) == ["NOx_month"] and t["month"]["NOx_month"].shape == (4, 12)
    long = ds[["CO2"]].to_dataframe().reset_index().rename(columns={"unit": "unit_code"})
    t2 = unit_series_tables(long)
    np.testing.assert_allclose(
        t2["hour"]["CO2"].loc[t["hour"]["CO2"].index].to_numpy(), t["hour"]["CO2"].to_numpy()
    )
    t3 = unit_series_tables({"hour": ds[["CO2"]], "month": ds[["NOx_month"]]})
    assert list(t3["hour"]) == ["CO2"] and list(t3["month"]) == ["NOx_month"]
    assert unit_series_tables(None) == {"hour": {}, "month": {}}


def test_unit_and_station_frames_validate(small):
    u = unit_frame(small["units"])
    assert u.crs.to_epsg() == 4326 and list(u["unit_code"])[0] == "ZH33010220001"
    with pytest.raises(InputDataError):
        unit_frame(small["units"].drop(columns=["unit_code"]))
    dup = pd.concat([small["units"], small["units"].iloc[:1]])
    with pytest.raises(InputDataError, match="more than once"):
        unit_frame(dup)
    st = station_frame(small["stations"].drop(columns=["kind"]))
    assert (st["kind"] == "").all()
    bad = small["stations"].copy()
    bad.loc[0, "lat"] = np.nan
    with pytest.raises(InputDataError):
        station_frame(bad)


def test_small_prior_hot_cell_fixture():
    ds = small_prior(hot=(5, 7))
    m = period_mean(ds, "CO2")
    assert m[5, 7] > 0 and (m > 0).sum() == 1


def test_unit_frame_keeps_polygon_parts_only(small):
    import shapely

    u = small["units"].copy()
    bow = shapely.Polygon(
        [(120.2, 30.2), (120.3, 30.3), (120.3, 30.2), (120.2, 30.3)]
    )  # self-crossing
    coll = shapely.GeometryCollection(
        [u.geometry.iloc[1], shapely.LineString([(120, 30), (121, 31)])]
    )
    u.loc[0, "geometry"] = bow
    u.loc[1, "geometry"] = coll
    u.loc[2, "geometry"] = shapely.LineString([(120, 30), (121, 31)])  # no area: dropped
    got = unit_frame(u)
    assert len(got) == 3 and set(got.geom_type) <= {"Polygon", "MultiPolygon"}
    assert got.geometry.is_valid.all()
