"""Station and observation tables: readers, units, time zones, and bad inputs."""

import numpy as np
import pandas as pd
import pytest

from gridcarbon.errors import InputDataError, InputFileError, OutsideGridError
from gridcarbon.inversion.observations import (
    normalise_observations,
    read_cnemc,
    read_cnemc_sites,
    read_observations,
    read_stations,
    validate_stations,
)
from gridcarbon.inversion.units import mass_to_mixing_factor, to_canonical
from gridcarbon.scenario.geography import default_grid
from gridcarbon.scenario.stations import default_network


@pytest.fixture(scope="module")
def grid():
    return default_grid()


@pytest.fixture(scope="module")
def stations(grid):
    st = pd.DataFrame(
        {
            "station_id": ["A", "B", "M"],
            "name": ["a", "b", "m"],
            "lon": [120.2, 121.5, 120.1],
            "lat": [30.3, 29.9, 30.2],
            "height": [30.0, 50.0, 10.0],
            "kind": ["urban", "regional", "micro"],
            "species": ["CO2,NO2,VOC", "CO2,NO2", "CO2,NO2"],
        }
    )
    return validate_stations(st, grid)


def _obs(**over):
    d = {
        "time": ["2023-01-02 05:00", "2023-01-02 06:00", "2023-01-02 05:00"],
        "station_id": ["A", "A", "B"],
        "species": ["CO2", "CO2", "NO2"],
        "value": [425.0, 426.5, 20.0],
        "unit": ["ppm", "ppm", "ppb"],
    }
    d.update(over)
    return pd.DataFrame(d)


def test_default_network(grid):
    net = default_network()
    counts = net["kind"].value_counts().to_dict()
    assert counts == {
        "micro": 82,
        "urban": 17,
        "regional": 10,
        "sink": 5,
        "background": 1,
        "demonstration": 1,
    }
    assert net["synthetic"].all()
    v = validate_stations(net, grid)  # all inside the default grid
    # each station's cell is the one whose centre is within half a cell of it
    half = grid.cell_size / 2
    assert (np.abs(grid.x[v["col"].to_numpy()] - v["x"].to_numpy()) <= half).all()
    assert (np.abs(grid.y[v["row"].to_numpy()] - v["y"].to_numpy()) <= half).all()
    assert net.loc[net.kind == "background", "name"].str.contains("Damingshan").all()


def test_normalise_ok(stations):
    out = normalise_observations(_obs(), stations)
    assert list(out.columns) == ["time", "station_id", "species", "value", "unit", "uncertainty"]
    assert out["time"].dtype == "datetime64[ns]"
    assert set(out["unit"]) == {"ppm", "ppb"}


def test_beijing_time_to_utc(stations):
    out = normalise_observations(_obs(), stations, time_zone="Asia/Shanghai")
    assert pd.Timestamp(out["time"].min()) == pd.Timestamp("2023-01-01 21:00")
    tz = _obs(time=["2023-01-02T05:00+08:00", "2023-01-02T06:00+08:00", "2023-01-02T05:00+08:00"])
    out = normalise_observations(tz, stations)
    assert pd.Timestamp(out["time"].min()) == pd.Timestamp("2023-01-01 21:00")


def test_mass_units_reference_state(stations):
    # NO2 µg/m³ -> ppb uses 273.15 K before 2018-09-01 (Beijing) and 298.15 K from then on
    f273 = mass_to_mixing_factor(46.0055, 273.15)
    f298 = mass_to_mixing_factor(46.0055, 298.15)
    assert f298 == pytest.approx(0.5318, rel=1e-3)
    assert f273 == pytest.approx(0.4872, rel=1e-3)
    v = to_canonical(
        np.array([100.0, 100.0]), "µg/m³", "NO2", np.array(["2018-08-31", "2018-09-01"])
    )
    np.testing.assert_allclose(v, [100 * f273, 100 * f298])
    # CO in mg/m3 -> ppm; VOC ug/m3 -> ppbC with the stated mass per carbon
    co = to_canonical(np.array([1.0]), "mg/m3", "CO", np.array(["2023-01-01"]))
    assert co[0] == pytest.approx(1000 * mass_to_mixing_factor(28.0101, 298.15) / 1000, rel=1e-9)
    voc = to_canonical(np.array([14.0]), "ug/m3", "VOC", np.array(["2023-01-01"]), 14.0)
    assert voc[0] == pytest.approx(24.465, rel=1e-3)  # 1 µmol C/m³ = 24.465 ppbC at 298.15 K
    # a pre-switch observation through the table (Beijing date decides)
    obs = _obs(
        time=["2018-08-31 15:30", "2018-08-31 16:30", "2018-08-31 16:30"],
        value=[425.0, 425.0, 100.0],
        unit=["ppm", "ppm", "ug/m3"],
    )
    out = normalise_observations(obs, stations)
    no2 = out[out.species == "NO2"]["value"].iloc[0]
    assert no2 == pytest.approx(100 * f298)  # 16:30 UTC = 00:30 Beijing on 2018-09-01


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"station_id": ["A", "A", "ZZZ"]}, r"row 3: unknown station 'ZZZ'"),
        (
            {"time": ["2023-01-02 05:00"] * 3, "species": ["CO2"] * 3, "station_id": ["A"] * 3},
            r"row 2: duplicate",
        ),
        ({"value": [425.0, -1.0, 20.0]}, r"row 2 .*negative value"),
        ({"value": [425.0, np.nan, 20.0]}, r"row 2 .*not a finite number"),
        ({"value": [425.0, np.inf, 20.0]}, r"row 2 .*not a finite number"),
        ({"unit": ["ppm", "furlongs", "ppb"]}, r"row 2: unknown unit 'furlongs'"),
        ({"species": ["CO2", "SO2", "NO2"]}, r"row 2: unknown species 'SO2'"),
        ({"time": ["2023-01-02 05:00", "not a time", "2023-01-02 05:00"]}, r"row 2: bad time"),
        (
            {"species": ["CO2", "CO2", "VOC"], "unit": ["ppm", "ppm", "ppbC"]},
            r"row 3: station 'B' does not list species VOC",
        ),
    ],
)
def test_bad_observations(stations, change, match):
    with pytest.raises(InputDataError, match=match):
        normalise_observations(_obs(**change), stations)


def test_empty_table(stations):
    with pytest.raises(InputDataError, match="empty"):
        normalise_observations(_obs().iloc[:0], stations)


def test_station_errors(grid):
    good = pd.DataFrame(
        {"station_id": ["A"], "lon": [120.2], "lat": [30.3], "kind": ["urban"], "species": ["CO2"]}
    )
    with pytest.raises(OutsideGridError, match="station 'X'.*outside the grid"):
        validate_stations(pd.concat([good, good.assign(station_id="X", lon=100.0, lat=40.0)]), grid)
    with pytest.raises(InputDataError, match="duplicate station_id 'A'"):
        validate_stations(pd.concat([good, good]), grid)
    with pytest.raises(InputDataError, match="unknown kind 'tower'"):
        validate_stations(good.assign(kind="tower"), grid)
    with pytest.raises(InputDataError, match="lacks column"):
        validate_stations(good.drop(columns="lat"), grid)
    with pytest.raises(InputDataError, match="empty"):
        validate_stations(good.iloc[:0], grid)


def test_csv_and_parquet_readers(tmp_path, stations):
    p = tmp_path / "obs.csv"
    _obs().to_csv(p, index=False)
    a = read_observations(p, stations)
    q = tmp_path / "obs.parquet"
    _obs().to_parquet(q)
    b = read_observations(q, stations)
    pd.testing.assert_frame_equal(a, b)
    st = tmp_path / "st.csv"
    stations[["station_id", "name", "lon", "lat", "height", "kind", "species"]].to_csv(
        st, index=False
    )
    assert len(read_stations(st)) == 3
    with pytest.raises(InputFileError, match="does not exist"):
        read_observations(tmp_path / "missing.csv", stations)


def test_cnemc_wide(tmp_path, grid):
    sites = tmp_path / "sites.csv"
    pd.DataFrame(
        {
            "监测点编码": ["1223A", "1224A"],
            "监测点名称": ["x", "y"],
            "城市": ["杭州", "杭州"],
            "经度": [120.16, 120.20],
            "纬度": [30.27, 30.30],
        }
    ).to_csv(sites, index=False, encoding="utf-8")
    st = validate_stations(read_cnemc_sites(sites), grid)
    assert list(st["species"]) == ["NO2", "NO2"]
    f = tmp_path / "china_sites_20230102.csv"
    pd.DataFrame(
        {
            "date": [20230102] * 4,
            "hour": [0, 0, 13, 13],
            "type": ["NO2", "PM2.5", "NO2", "CO"],
            "1223A": [40.0, 80.0, 30.0, 0.9],
            "1224A": [np.nan, 70.0, 20.0, 1.1],
            "9999A": [1.0, 1.0, 1.0, 1.0],
        }
    ).to_csv(f, index=False)
    obs = read_cnemc([f], st, hour_stamp="ending")
    assert len(obs) == 3  # NO2 only, the NaN dropped, unknown station ignored
    # hour 13 Beijing, hour-ending -> 12:00-13:00 Beijing -> 04:00 UTC
    t = obs[(obs.station_id == "1223A")].sort_values("time")["time"]
    assert pd.Timestamp(t.iloc[1]) == pd.Timestamp("2023-01-02 04:00")
    assert pd.Timestamp(t.iloc[0]) == pd.Timestamp(
        "2023-01-01 15:00"
    )  # 00h ending -> 23:00 prev day BJ
    np.testing.assert_allclose(
        obs.loc[obs.station_id == "1224A", "value"], 20 * mass_to_mixing_factor(46.0055, 298.15)
    )
    beg = read_cnemc([f], st, hour_stamp="beginning")
    assert pd.Timestamp(beg["time"].max()) == pd.Timestamp("2023-01-02 05:00")
    with pytest.raises(InputDataError, match="hour_stamp"):
        read_cnemc([f], st, hour_stamp="middle")
