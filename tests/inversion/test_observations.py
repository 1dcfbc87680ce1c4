"""Station and observation tables: readers, units, time zones, plausibility and bad inputs."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.errors import GridcarbonError, InputDataError, InputFileError, OutsideGridError
from gridcarbon.inversion.conversion import mass_to_mixing_factor, to_canonical
from gridcarbon.inversion.observations import (
    ObservationWarning,
    check_magnitude,
    diurnal_minimum_hour,
    match_station_codes,
    normalise_observations,
    parse_values,
    read_cnemc,
    read_cnemc_sites,
    read_observations,
    read_stations,
    validate_stations,
)
from gridcarbon.names import NameCleanedWarning
from gridcarbon.scenario.geography import default_grid
from gridcarbon.scenario.stations import default_network

F298 = mass_to_mixing_factor(46.0055, 298.15)  # ppb per µg/m³ of NO2 at 25 °C


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


@pytest.fixture(scope="module")
def cnemc_stations(grid):
    st = pd.DataFrame(
        {
            "station_id": ["1223A", "1224A"],
            "lon": [120.16, 120.20],
            "lat": [30.27, 30.30],
            "kind": ["urban", "urban"],
            "species": ["NO2", "NO2"],
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


def _cnemc_day(path, date, values, type_="NO2"):
    """A CNEMC daily file: 24 hours of ``type_`` (and PM2.5), one column per code."""
    rows = []
    for h in range(24):
        for t in (type_, "PM2.5"):
            row = {"date": date, "hour": h, "type": t}
            row.update({code: (v[h] if t == type_ else 50) for code, v in values.items()})
            rows.append(row)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


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
    # validation keeps the values of a valid table
    for col in ("station_id", "name", "kind", "species", "lon", "lat", "height"):
        assert v[col].tolist() == net[col].tolist()


def test_normalise_ok(stations):
    out = normalise_observations(_obs(), stations, time_zone="UTC")
    assert list(out.columns) == ["time", "station_id", "species", "value", "unit", "uncertainty"]
    assert str(out["time"].dtype) == "datetime64[ns, UTC]"
    assert set(out["unit"]) == {"ppm", "ppb"}
    assert out.attrs["observation_qa"]["sources"] == {
        "DataFrame": {"values_read": 3, "values_kept": 3, "missing": {}}
    }
    # a normalised table passes again unchanged (it carries UTC explicitly)
    again = normalise_observations(out, stations)
    pd.testing.assert_frame_equal(again, out)


def test_beijing_time_to_utc(stations):
    out = normalise_observations(_obs(), stations, time_zone="Asia/Shanghai")
    assert out["time"].min() == pd.Timestamp("2023-01-01 21:00", tz="UTC")
    tz = _obs(time=["2023-01-02T05:00+08:00", "2023-01-02T06:00+08:00", "2023-01-02T05:00+08:00"])
    out = normalise_observations(tz, stations)
    assert out["time"].min() == pd.Timestamp("2023-01-01 21:00", tz="UTC")


def test_mass_units_reference_state(stations):
    # NO2 µg/m³ -> ppb uses 273.15 K before 2018-09-01 (Beijing) and 298.15 K from then on
    f273 = mass_to_mixing_factor(46.0055, 273.15)
    assert F298 == pytest.approx(0.5318, rel=1e-3)
    assert f273 == pytest.approx(0.4872, rel=1e-3)
    v = to_canonical(
        np.array([100.0, 100.0]), "µg/m³", "NO2", np.array(["2018-08-31", "2018-09-01"])
    )
    np.testing.assert_allclose(v, [100 * f273, 100 * F298])
    # CO in mg/m3 -> ppm; VOC ug/m3 -> ppbC with the stated mass per carbon
    co = to_canonical(np.array([1.0]), "mg/m3", "CO", np.array(["2023-01-01"]))
    assert co[0] == pytest.approx(1000 * mass_to_mixing_factor(28.0101, 298.15) / 1000, rel=1e-9)
    voc = to_canonical(np.array([14.0]), "ug/m3", "VOC", np.array(["2023-01-01"]), 14.0)
    assert voc[0] == pytest.approx(24.465, rel=1e-3)  # 1 µmol C/m³ = 24.465 ppbC at 298.15 K
    # a pre-switch observation through the table (Beijing date decides)
    obs = _obs(
        time=["2018-08-31 15:00", "2018-08-31 16:00", "2018-08-31 16:00"],
        value=[425.0, 425.0, 100.0],
        unit=["ppm", "ppm", "ug/m3"],
    )
    out = normalise_observations(obs, stations, time_zone="UTC")
    no2 = out[out.species == "NO2"]["value"].iloc[0]
    assert no2 == pytest.approx(100 * F298)  # 16:00 UTC = 00:00 Beijing on 2018-09-01


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"station_id": ["A", "A", "ZZZ"]},
            "DataFrame, row 3, column 'station_id': station 'ZZZ' is not in the station table "
            "(A, B, M); add it there or remove its rows",
        ),
        (
            {"time": ["2023-01-02 05:00"] * 3, "species": ["CO2"] * 3, "station_id": ["A"] * 3},
            "DataFrame, rows 1 and 2: two CO2 values for station 'A' at '2023-01-02 05:00' "
            "(2023-01-02 05:00 UTC); keep one value per station, species and hour (was a file "
            "given twice?)",
        ),
        (
            {"value": [425.0, -1.0, 20.0]},
            "DataFrame, row 2, column 'value' (A, CO2): value -1.0 is -1 ppm, below the 0 ppm "
            "that instrument noise near zero can give (-99, -999 and -9999 are read as missing); "
            "correct it or leave the cell empty",
        ),
        (
            {"value": [425.0, np.inf, 20.0]},
            "DataFrame, row 2, column 'value': value 'inf' is not finite; correct it or leave "
            "the cell empty",
        ),
        (
            {"unit": ["ppm", "furlongs", "ppb"]},
            "DataFrame, row 2, column 'unit': unknown unit 'furlongs'; use ppm, ppb, ppbC, "
            "ug/m3 or mg/m3",
        ),
        (
            {"species": ["CO2", "SO2", "NO2"]},
            "DataFrame, row 2, column 'species': unknown species 'SO2'; use CO2, NO2 or VOC",
        ),
        (
            {"time": ["2023-01-02 05:00", "not a time", "2023-01-02 05:00"]},
            "DataFrame, row 2, column 'time': time stamp 'not a time' does not start with a "
            "four-digit year (day/month order cannot be told apart); write it as 2023-01-02 "
            "13:00+08:00 (ISO 8601 with its UTC offset), or as 2023-01-02 13:00 with the time "
            "zone declared (observation_time_zone)",
        ),
        (
            {"time": ["2023-01-02 05:00", "02/01/2023 06:00", "2023-01-02 05:00"]},
            "DataFrame, row 2, column 'time': time stamp '02/01/2023 06:00' does not start with "
            "a four-digit year (day/month order cannot be told apart); write it as 2023-01-02 "
            "13:00+08:00 (ISO 8601 with its UTC offset), or as 2023-01-02 13:00 with the time "
            "zone declared (observation_time_zone)",
        ),
        (
            {"species": ["CO2", "CO2", "VOC"], "unit": ["ppm", "ppm", "ppbC"]},
            "DataFrame, row 3, column 'species': station 'B' does not list species VOC in the "
            "station table; add it to the station's species or remove the rows",
        ),
    ],
)
def test_bad_observations(stations, change, message):
    with pytest.raises(InputDataError) as err:
        normalise_observations(_obs(**change), stations, time_zone="UTC")
    assert str(err.value) == message


def test_small_negative_values_kept_and_counted(stations):
    out = normalise_observations(_obs(value=[425.0, 426.5, -3.0]), stations, time_zone="UTC")
    assert out.loc[out.species == "NO2", "value"].tolist() == [-3.0]
    assert out.attrs["observation_qa"]["negative_values_kept"] == 1
    with pytest.raises(InputDataError, match=r"row 3, column 'value' \(B, NO2\): value -31.0"):
        normalise_observations(_obs(value=[425.0, 426.5, -31.0]), stations, time_zone="UTC")


def test_empty_table(stations):
    with pytest.raises(InputDataError, match="^DataFrame: the observation table is empty"):
        normalise_observations(_obs().iloc[:0], stations, time_zone="UTC")
    with pytest.raises(InputDataError) as err:
        normalise_observations(_obs(value=[np.nan, "NA", -99]), stations, time_zone="UTC")
    assert str(err.value) == (
        "DataFrame: all 3 values are missing (1 × 'empty', 1 × 'NA', 1 × '-99'); nothing to invert"
    )


def test_station_errors(grid):
    good = pd.DataFrame(
        {"station_id": ["A"], "lon": [120.2], "lat": [30.3], "kind": ["urban"], "species": ["CO2"]}
    )
    with pytest.raises(OutsideGridError) as err:
        validate_stations(pd.concat([good, good.assign(station_id="X", lon=100.0, lat=40.0)]), grid)
    assert str(err.value) == (
        "DataFrame, row 2: station 'X' (lon 100.0, lat 40.0) is outside the grid; remove it or "
        "enlarge the grid (grid.buffer_m)"
    )
    with pytest.raises(InputDataError, match=r"^DataFrame, rows 1 and 2: duplicate station_id 'A'"):
        validate_stations(pd.concat([good, good]), grid)
    with pytest.raises(
        InputDataError, match=r"rows 1 and 2: duplicate station_id 'A' and 'a' \(the same code"
    ):
        validate_stations(pd.concat([good, good.assign(station_id="a ")]), grid)
    with pytest.raises(InputDataError, match=r"row 1, column 'kind' \(A\): unknown kind 'tower'"):
        validate_stations(good.assign(kind="tower"), grid)
    with pytest.raises(InputDataError, match=r"^DataFrame, columns: the station table lacks"):
        validate_stations(good.drop(columns="lat"), grid)
    with pytest.raises(InputDataError, match="^DataFrame: the station table is empty"):
        validate_stations(good.iloc[:0], grid)
    with pytest.raises(InputDataError, match=r"row 1, column 'lat': latitude 'x' is not a number"):
        validate_stations(good.assign(lat="x"), grid)
    # headers and kinds regardless of spaces and case
    loose = good.rename(columns={"lon": " Lon", "kind": "KIND"}).assign(kind=" Urban")
    assert validate_stations(loose, grid)["kind"].tolist() == ["urban"]


def test_csv_and_parquet_readers(tmp_path, stations):
    p = tmp_path / "obs.csv"
    _obs().to_csv(p, index=False)
    a = read_observations(p, stations, time_zone="UTC")
    q = tmp_path / "obs.parquet"
    _obs().to_parquet(q)
    b = read_observations(q, stations, time_zone="UTC")
    pd.testing.assert_frame_equal(a, b, check_like=False)
    st = tmp_path / "st.csv"
    stations[["station_id", "name", "lon", "lat", "height", "kind", "species"]].to_csv(
        st, index=False
    )
    assert len(read_stations(st)) == 3
    with pytest.raises(InputFileError, match="does not exist"):
        read_observations(tmp_path / "missing.csv", stations)


def test_a_dataframe_and_its_file_give_the_same_table_and_the_same_errors(tmp_path, stations):
    import gridcarbon

    frame = _obs(station_id=["A", "a ", "B"])  # a code matched loosely: warned both ways
    p = tmp_path / "obs.csv"
    frame.to_csv(p, index=False)
    st = tmp_path / "stations.csv"
    stations[["station_id", "name", "lon", "lat", "height", "kind", "species"]].to_csv(
        st, index=False
    )
    with pytest.warns(ObservationWarning, match="DataFrame: station codes matched"):
        from_frame = gridcarbon.read_observations(frame, stations, time_zone="UTC")
    with pytest.warns(ObservationWarning, match=f"{re.escape(str(p))}: station codes matched"):
        from_file = gridcarbon.read_observations(p, st, time_zone="UTC")
    pd.testing.assert_frame_equal(from_frame, from_file)
    assert from_frame.attrs["observation_qa"]["sources"]["DataFrame"]["values_kept"] == 3
    assert from_file.attrs["observation_qa"]["sources"][str(p)]["values_kept"] == 3
    # the same refusal, located as the user finds it: row 2 of the table is line 3 of the file
    bad = frame.assign(value=[425.0, "4,26", 20.0])
    bad.to_csv(p, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ObservationWarning)  # the loose code, as above
        with pytest.raises(InputDataError) as in_frame:
            gridcarbon.read_observations(bad, stations, time_zone="UTC", source_name="my table")
        with pytest.raises(InputDataError) as in_file:
            gridcarbon.read_observations(p, stations, time_zone="UTC")
    tail = (
        ", column 'value': value '4,26' is not a number; correct it, or leave the cell empty "
        "(or NA, —, -99) for a missing value"
    )
    assert str(in_frame.value) == "my table, row 2" + tail
    assert str(in_file.value) == f"{p}, line 3" + tail


def test_stations_from_a_dataframe_or_a_file_are_validated_alike(tmp_path, grid):
    import gridcarbon

    table = pd.DataFrame(
        {
            "station_id": ["S1 "],
            "lon": [120.2],
            "lat": [30.3],
            "kind": ["Urban"],
            "species": ["co2"],
        }
    )
    p = tmp_path / "stations.csv"
    table.to_csv(p, index=False)
    pd.testing.assert_frame_equal(
        gridcarbon.read_stations(table, grid), gridcarbon.read_stations(p, grid)
    )
    far = table.assign(lon=[100.0])
    with pytest.raises(OutsideGridError, match=r"^DataFrame, row 1: station 'S1'"):
        gridcarbon.read_stations(far, grid)


def test_the_public_namespace_offers_the_readers_that_take_objects():
    import gridcarbon
    from gridcarbon.inversion import observations
    from gridcarbon.zoning import normalise

    assert gridcarbon.read_observations is observations.read_observations
    assert gridcarbon.read_stations is observations.read_stations
    assert gridcarbon.control_units is normalise.control_units
    assert {"control_units", "read_observations", "read_stations"} <= set(dir(gridcarbon))
    assert {"control_units", "read_observations", "read_stations"} <= set(gridcarbon.__all__)


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
    assert len(obs) == 3  # NO2 only, the empty cell counted as missing, unknown station ignored
    assert obs.attrs["observation_qa"]["sources"] == {
        str(f): {"values_read": 4, "values_kept": 3, "missing": {"empty": 1}}
    }
    # hour 13 Beijing, hour-ending -> 12:00-13:00 Beijing -> 04:00 UTC
    t = obs[(obs.station_id == "1223A")].sort_values("time")["time"]
    assert t.iloc[1] == pd.Timestamp("2023-01-02 04:00", tz="UTC")
    assert t.iloc[0] == pd.Timestamp("2023-01-01 15:00", tz="UTC")  # 00h ending: 23:00 BJ
    np.testing.assert_allclose(obs.loc[obs.station_id == "1224A", "value"], 20 * F298)
    beg = read_cnemc([f], st, hour_stamp="beginning")
    assert beg["time"].max() == pd.Timestamp("2023-01-02 05:00", tz="UTC")
    with pytest.raises(InputDataError, match="hour_stamp"):
        read_cnemc([f], st, hour_stamp="middle")


# -- regression tests of the review of the observation readers ------------------------------


def test_cnemc_no2_in_mg_refused_with_factor_and_fix(tmp_path, cnemc_stations):
    # a re-export in mg/m³ read as CNEMC's µg/m³ used to give a median of 0.02 ppb, silently
    mg = np.round(np.random.default_rng(3).uniform(0.02, 0.06, 24), 3)
    f = _cnemc_day(tmp_path / "china_sites_20230102.csv", 20230102, {"1223A": mg, "1224A": mg})
    with pytest.raises(GridcarbonError) as err:
        read_cnemc([f], cnemc_stations)
    median = np.median(mg)
    assert str(err.value) == (
        f"NO2 at station '1223A' ({f}, lines 2–48): median {median:.3g} ug/m3 = "
        f"{median * F298:.3g} ppb, where a station's median is 1–100 ppb; the values would be "
        f"plausible in mg/m3 (×1000: {median * F298 * 1000:.3g} ppb) or in ppm "
        f"(×{1000 / F298:.4g}: {median * 1000:.3g} ppb). Refused: if they are in mg/m3, declare "
        "that unit (read_cnemc(..., units={'NO2': 'mg/m3'})); if the values are right, set "
        "observation_magnitude_check: warn (magnitude_check='warn' in Python)"
    )
    obs = read_cnemc([f], cnemc_stations, units={"NO2": "mg/m3"})
    np.testing.assert_allclose(
        obs.loc[obs.station_id == "1223A", "value"].to_numpy(), mg * 1000 * F298
    )


def test_invert_refuses_a_long_table_1000x_too_small(tiny_case):
    from gridcarbon.inversion import run_inversion

    t = pd.date_range("2023-01-01", periods=24, freq="h")
    obs = pd.DataFrame(
        {
            "time": t.strftime("%Y-%m-%d %H:%M"),
            "station_id": "UR01",
            "species": "NO2",
            "value": np.linspace(0.01, 0.03, 24),  # ppb: NO2 in mg/m³ taken for µg/m³
            "unit": "ppb",
        }
    )
    with pytest.raises(GridcarbonError) as err:
        run_inversion(
            tiny_case.prior,
            tiny_case.scenario,
            InversionConfig(observation_time_zone="UTC"),
            obs,
        )
    assert str(err.value) == (
        "NO2 at station 'UR01' (DataFrame, rows 1–24): median 0.02 ppb = 0.02 ppb, where a "
        "station's median is 1–100 ppb; the values would be plausible in ppm (×1000: 20 ppb) "
        f"or in mg/m3 (×{1000 * F298:.4g}: {20 * F298:.3g} ppb). Refused: if they "
        "are in ppm, declare that unit (in the unit column); if the values are right, set "
        "observation_magnitude_check: warn (magnitude_check='warn' in Python)"
    )


def test_cnemc_headers_with_space_or_lower_case_are_matched(tmp_path, cnemc_stations):
    day1 = _cnemc_day(tmp_path / "d1.csv", 20230102, {"1223A": [40] * 24, "1224A": [30] * 24})
    day2 = _cnemc_day(tmp_path / "d2.csv", 20230103, {"1223A ": [41] * 24, "1224a": [31] * 24})
    with pytest.warns(UserWarning) as caught:
        obs = read_cnemc([day1, day2], cnemc_stations)
    assert obs.groupby("station_id").size().to_dict() == {"1223A": 48, "1224A": 48}
    assert [str(w.message) for w in caught] == [
        "CNEMC headers matched after removing spaces/case: matched "
        f"1223A ← '1223A ' ({day2}, line 1), 1224A ← '1224a' ({day2}, line 1)"
    ]
    assert obs.attrs["observation_qa"]["matched_station_codes"] == {
        "1223A": ["1223A "],
        "1224A": ["1224a"],
    }


def test_naive_stamps_need_a_declared_time_zone(stations):
    assert InversionConfig().observation_time_zone is None
    with pytest.raises(GridcarbonError) as err:
        normalise_observations(_obs(), stations, InversionConfig().observation_time_zone)
    assert str(err.value) == (
        "DataFrame, row 1, column 'time': time stamp '2023-01-02 05:00' carries no UTC offset, "
        "and no time zone is declared for such stamps; set observation_time_zone to 'UTC' or "
        "'Asia/Shanghai' (Beijing time) — time_zone= in Python — or write the offset into "
        "every stamp (2023-01-02 13:00+08:00)"
    )


def _urban_no2_week(beijing_wall_clock: bool = True) -> pd.DataFrame:
    """A week of hourly NO2 at an urban station with its afternoon minimum at 14:00 Beijing,
    stamped in Beijing wall-clock time without an offset."""
    rng = np.random.default_rng(5)
    wall = pd.date_range("2023-01-02", periods=24 * 7, freq="h")
    h = wall.hour.to_numpy()
    cycle = 25 + 10 * np.cos(2 * np.pi * (h - 2) / 24)  # maximum at night, minimum at 14:00
    return pd.DataFrame(
        {
            "time": wall.strftime("%Y-%m-%d %H:%M"),
            "station_id": "A",
            "species": "NO2",
            "value": np.round(cycle + rng.normal(0, 1.5, len(h)), 1),
            "unit": "ppb",
        }
    )


def test_beijing_stamps_read_as_utc_warn_with_the_offset(stations):
    obs = _urban_no2_week()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        right = normalise_observations(obs, stations, time_zone="Asia/Shanghai")
    assert right["time"].min() == pd.Timestamp("2023-01-01 16:00", tz="UTC")
    with pytest.warns(ObservationWarning) as caught:
        normalise_observations(obs, stations, time_zone="UTC")
    assert [str(w.message) for w in caught] == [
        "DataFrame: NO2: the mean daily minimum at 1 station(s) near sources falls at 22:00 "
        "local time "
        "(UTC+8), but near sources it falls in the afternoon (12:00–18:00); the time stamps "
        "look 8 h late. They were read in UTC; if the file is in Beijing time, set "
        "observation_time_zone: Asia/Shanghai"
    ]


def test_missing_markers_read_as_missing_and_counted_by_file(tmp_path, stations):
    p = tmp_path / "obs.csv"
    p.write_text(
        "time,station_id,species,value,unit\n"
        "2023-01-02 05:00+00:00,A,CO2,425.0,ppm\n"
        "2023-01-02 06:00+00:00,A,CO2,-99,ppm\n"
        "2023-01-02 07:00+00:00,A,CO2,—,ppm\n"
        "2023-01-02 08:00+00:00,A,CO2,NA,ppm\n"
        "2023-01-02 09:00+00:00,A,CO2,,ppm\n"
        "2023-01-02 10:00+00:00,A,CO2,-999,ppm\n"
        "2023-01-02 11:00+00:00,A,CO2,426.5,ppm\n",
        encoding="utf-8",
    )
    obs = read_observations(p, stations)
    assert obs["value"].tolist() == [425.0, 426.5]
    assert obs.attrs["observation_qa"]["sources"] == {
        str(p): {
            "values_read": 7,
            "values_kept": 2,
            "missing": {"-99": 1, "—": 1, "NA": 1, "empty": 1, "-999": 1},
        }
    }


def test_duplicates_named_by_file_and_both_lines(tmp_path, stations):
    p = tmp_path / "obs.csv"
    p.write_text(
        "time,station_id,species,value,unit\n"
        "2023-01-02 13:00,A,CO2,425.0,ppm\n"
        "\n"
        "2023-01-02 14:00,A,CO2,426.0,ppm\n"
        "2023-01-02 13:00,A,CO2,425.5,ppm\n",
        encoding="utf-8",
    )
    with pytest.raises(GridcarbonError) as err:
        read_observations(p, stations, time_zone="Asia/Shanghai")
    assert str(err.value) == (
        f"{p}, lines 2 and 5: two CO2 values for station 'A' at '2023-01-02 13:00' (2023-01-02 "
        "05:00 UTC); keep one value per station, species and hour (was a file given twice?)"
    )


def test_mixed_aware_and_naive_stamps_name_the_first_of_each(tmp_path, stations):
    p = tmp_path / "obs.csv"
    p.write_text(
        "time,station_id,species,value,unit\n"
        "2024-01-14 14:00+08:00,A,CO2,425.0,ppm\n"
        "2024-01-14 15:00,A,CO2,426.0,ppm\n",
        encoding="utf-8",
    )
    with pytest.raises(GridcarbonError) as err:
        read_observations(p, stations, time_zone="UTC")
    assert str(err.value) == (
        f"{p}: some time stamps carry a UTC offset and some do not — first with one: line 2, "
        "column 'time', '2024-01-14 14:00+08:00'; first without: line 3, column 'time', "
        "'2024-01-14 15:00'; write every stamp with its offset (2023-01-02 13:00+08:00), or none "
        "and declare the time zone (observation_time_zone)"
    )


def test_stamps_off_the_whole_hour_are_refused_naming_file_first_line_and_count(tmp_path, stations):
    p = tmp_path / "obs.csv"
    p.write_text(
        "time,station_id,species,value,unit\n"
        "2023-01-02 13:00,A,CO2,425.0,ppm\n"
        "2023-01-02 13:30,A,CO2,,ppm\n"  # a missing value: not counted
        "2023-01-02 14:00,A,CO2,426.0,ppm\n"
        "2023-01-02 14:30,A,CO2,426.5,ppm\n"
        "2023-01-02 15:00:20,A,CO2,427.0,ppm\n",
        encoding="utf-8",
    )
    with pytest.raises(InputDataError) as err:
        read_observations(p, stations, time_zone="Asia/Shanghai")
    assert str(err.value) == (
        f"{p}, line 5, column 'time': time stamp '2023-01-02 14:30' (2023-01-02 06:30 UTC) is "
        "not on a whole hour (2 of the 4 stamps with a value are not); values are hourly means "
        "stamped at the beginning of their hour (13:00 for 13:00–14:00): average sub-hourly "
        "values into hourly means, or correct the stamps"
    )
    # an offset of half an hour puts whole local hours off the UTC hours: refused too
    with pytest.raises(InputDataError, match=r"row 1, column 'time': .* not on a whole hour"):
        normalise_observations(_obs(time=["2023-01-02 05:00+05:30"] * 3), stations)


def test_bad_value_named_by_file_line_and_text(tmp_path, stations):
    p = tmp_path / "obs.csv"
    p.write_text(
        'time,station_id,species,value,unit\n2023-01-02 05:00Z,A,CO2,"425,5",ppm\n',
        encoding="utf-8",
    )
    with pytest.raises(GridcarbonError) as err:
        read_observations(p, stations)
    assert str(err.value) == (
        f"{p}, line 2, column 'value': value '425,5' is not a number; correct it, or leave the "
        "cell empty (or NA, —, -99) for a missing value"
    )


# -- plausibility checks as pure functions ---------------------------------------------------


def test_check_magnitude_on_arrays():
    dates = np.array(["2023-01-02"] * 24)
    ug = np.linspace(20, 60, 24)  # NO2 µg/m³
    assert check_magnitude(ug, "NO2", "ug/m3", dates).verdict == "ok"
    v = check_magnitude(ug / 1000, "NO2", "ug/m3", dates)
    assert v.verdict == "refuse"
    assert [u for u, _, _ in v.alternatives] == ["mg/m3", "ppm"]
    assert v.alternatives[0][1] == pytest.approx(1000.0)
    assert check_magnitude(np.full(24, 1.5), "NO2", "ug/m3", dates).verdict == "warn"
    assert check_magnitude(ug[:5], "NO2", "ug/m3", dates).verdict == "too few"
    # CO2 units are only checked, never inferred: 420 in a column declared mg/m³ is refused,
    # ~756 mg/m³ (420 ppm at 25 °C) is fine
    co2 = check_magnitude(np.full(24, 420.0), "CO2", "mg/m3", dates)
    assert co2.verdict == "refuse" and co2.alternatives[0][0] == "ppm"
    assert co2.median_canonical == pytest.approx(233.5, abs=0.5)
    assert check_magnitude(np.full(24, 756.0), "CO2", "mg/m3", dates).verdict == "ok"
    assert check_magnitude(np.full(24, 420.0), "CO2", "ppm", dates).verdict == "ok"
    assert check_magnitude(np.full(24, 420e3), "CO2", "ppm", dates).alternatives[0][0] == "ppb"


def test_magnitude_check_warn_mode(stations):
    obs = pd.DataFrame(
        {
            "time": pd.date_range("2023-01-02", periods=8, freq="h", tz="UTC"),
            "station_id": "B",
            "species": "NO2",
            "value": 0.1,
            "unit": "ppb",
        }
    )
    with pytest.raises(InputDataError, match="Refused"):
        normalise_observations(obs, stations)
    with pytest.warns(
        ObservationWarning,
        match=r"^station medians outside the plausible range \(check the units, and sensor offsets\): NO2",
    ):
        out = normalise_observations(obs, stations, magnitude_check="warn")
    assert out["value"].tolist() == [0.1] * 8
    assert out.attrs["observation_qa"]["warnings"][0].startswith("station medians outside")


def test_diurnal_minimum_hour_on_arrays():
    hours = np.tile(np.arange(24), 5)
    days = np.repeat(np.arange(5), 24)
    values = 20 + 8 * np.cos(2 * np.pi * (hours - 2) / 24)
    assert diurnal_minimum_hour(hours, days, values, np.zeros(len(hours))) == (14, 1)
    flat = np.full(len(hours), 20.0) + np.random.default_rng(0).normal(0, 3, len(hours))
    assert diurnal_minimum_hour(hours, days, flat, np.zeros(len(hours))) == (None, 0)
    # two days are too few to tell
    assert diurnal_minimum_hour(hours[:48], days[:48], values[:48], np.zeros(48)) == (None, 0)


def test_parse_values_markers():
    vals, missing, bad = parse_values(["1.5", " 2 ", "", "NA", "n/a", "—", "-99", "-999.0", "x"])
    np.testing.assert_array_equal(vals[:2], [1.5, 2.0])
    assert missing.tolist() == [None, None, "empty", "NA", "n/a", "—", "-99", "-999", None]
    assert bad.tolist() == [False] * 8 + [True]
    vals, missing, bad = parse_values(pd.Series([3.0, np.nan, -9999.0]))
    assert missing.tolist() == [None, "empty", "-9999"] and not bad.any()


# -- codes and names ------------------------------------------------------------------------


def test_station_codes_normalised_in_a_long_table(stations):
    obs = _obs(station_id=[" a", "A", "b "])
    with pytest.warns(ObservationWarning) as caught:
        out = normalise_observations(obs, stations, time_zone="UTC")
    assert sorted(out["station_id"]) == ["A", "A", "B"]
    assert [str(w.message) for w in caught] == [
        "DataFrame: station codes matched after removing spaces/case: matched A ← ' a', B ← 'b '"
    ]
    assert match_station_codes(["１２２５Ａ", "9"], ["1225A"]) == ({"１２２５Ａ": "1225A"}, ["9"])


def test_station_table_codes_and_names_checked_by_line(tmp_path):
    p = tmp_path / "stations.csv"
    p.write_text(
        "station_id,name,lon,lat,kind,species\n"
        "A,Hangzhou\tnorth,120.2,30.3,urban,CO2\n"
        "B\u202e,B,120.3,30.3,urban,CO2\n",
        encoding="utf-8",
    )
    with pytest.raises(InputDataError) as err:
        read_stations(p)
    assert str(err.value) == (
        f"{p}, line 3: the code 'B\\u202e' in field 'station_id' holds control or invisible "
        "formatting characters; a code must be plain text — correct it in the file"
    )
    p.write_text(
        f"station_id,name,lon,lat,kind,species\nA,Hangzhou\tnorth,120.2,30.3,urban,CO2\n"
        f"B,{'x' * 201},120.3,30.3,urban,CO2\n",
        encoding="utf-8",
    )
    with pytest.raises(InputDataError, match=re.escape(f"{p}, line 3: the name in field 'name'")):
        read_stations(p)
    p.write_text(
        "station_id,name,lon,lat,kind,species\nA,Hangzhou\tnorth,120.2,30.3,urban,CO2\n",
        encoding="utf-8",
    )
    with pytest.warns(NameCleanedWarning, match="first at line 2"):
        st = read_stations(p)
    assert st["name"].tolist() == ["Hangzhou north"]


# -- more CNEMC -------------------------------------------------------------------------------


def test_cnemc_same_day_twice_names_both_files(tmp_path, cnemc_stations):
    values = {"1223A": np.full(24, 40.0), "1224A": np.full(24, 30.0)}
    a = _cnemc_day(tmp_path / "a.csv", 20230102, values)
    b = _cnemc_day(tmp_path / "b.csv", 20230102, values)
    with pytest.raises(GridcarbonError) as err:
        read_cnemc([a, b], cnemc_stations)
    assert str(err.value) == (
        f"{a}, line 2 and {b}, line 2: two NO2 values for station '1223A' at 'date 20230102, "
        "hour 0' (2023-01-01 15:00 UTC); keep one value per station, species and hour (was a "
        "file given twice?)"
    )


def test_cnemc_bad_hour_and_missing_columns(tmp_path, cnemc_stations):
    f = tmp_path / "bad.csv"
    f.write_text("date,hour,type,1223A\n20230102,7,NO2,40\n20230102,7.5,NO2,41\n")
    with pytest.raises(InputDataError) as err:
        read_cnemc([f], cnemc_stations)
    assert str(err.value) == f"{f}, line 3, column 'hour': hour '7.5' is not a whole hour 0–24"
    f.write_text("date,type,1223A\n20230102,NO2,40\n")
    with pytest.raises(InputDataError, match=re.escape(f"{f}, line 1: no column(s) ['hour']")):
        read_cnemc([f], cnemc_stations)
    _cnemc_day(f, 20230102, {"9999A": np.full(24, 40.0)})
    with pytest.raises(InputDataError, match="no NO2 value of a station of the station table"):
        read_cnemc([f], cnemc_stations)


def test_cnemc_station_without_column_warned(tmp_path, cnemc_stations):
    f = _cnemc_day(
        tmp_path / "d.csv", 20230102, {"1223A": np.full(24, 40.0), "1224 A": np.full(24, 30.0)}
    )
    with pytest.warns(ObservationWarning) as caught:
        obs = read_cnemc([f], cnemc_stations)
    assert set(obs["station_id"]) == {"1223A"}
    assert [str(w.message) for w in caught] == [
        "station(s) ['1224A'] of the station table measure NO2 but have no column in any of the "
        f"1 CNEMC file(s) (closest headers: 1224A: '1224 A' in {f}, line 1); check their codes"
    ]


# -- Excel and configuration -----------------------------------------------------------------


def test_excel_observations_located_by_cell(tmp_path, stations):
    import openpyxl

    p = tmp_path / "obs.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Hourly"
    ws.append(["time", "station_id", "species", "value", "unit"])
    ws.append(["2023-01-02 05:00", "A", "CO2", 425.0, "ppm"])
    ws.append(["2023-01-02 06:00", "A", "CO2", "#N/A", "ppm"])
    ws.append(["2023-01-02 07:00", "A", "CO2", "4x5", "ppm"])
    wb.save(p)
    with pytest.raises(InputDataError) as err:
        read_observations(p, stations, time_zone="UTC")
    assert str(err.value) == (
        f"{p}, Hourly!D4: value '4x5' is not a number; correct it, or leave the cell empty (or "
        "NA, —, -99) for a missing value"
    )


def test_config_time_zone_and_check_options():
    assert InversionConfig(observation_time_zone="Asia/Shanghai").observation_time_zone == (
        "Asia/Shanghai"
    )
    with pytest.raises(ValueError, match="observation_time_zone 'Beijing' is not a time zone"):
        InversionConfig(observation_time_zone="Beijing")
    with pytest.raises(ValueError):
        InversionConfig(observation_magnitude_check="ignore")


def test_station_elevation_is_optional_and_checked(grid):
    good = pd.DataFrame(
        {
            "station_id": ["A", "B"],
            "lon": [120.2, 119.6],
            "lat": [30.3, 30.2],
            "kind": ["urban", "background"],
            "species": ["CO2", "CO2"],
        }
    )
    assert "elevation" not in validate_stations(good, grid)
    v = validate_stations(good.assign(Elevation=["12", ""]), grid)
    assert v["elevation"].iloc[0] == 12.0 and np.isnan(v["elevation"].iloc[1])
    with pytest.raises(InputDataError) as err:
        validate_stations(good.assign(elevation=[12.0, "1.5 km"]), grid)
    assert str(err.value).startswith("DataFrame, row 2, column 'elevation' (B): elevation '1.5 km'")
    with pytest.raises(InputDataError, match="not a height in -500..9000 m"):
        validate_stations(good.assign(elevation=[12.0, 15000.0]), grid)
