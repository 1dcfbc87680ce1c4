"""Synergy readers and writers: formula-safe CSV/Excel, bounds, peak specs, header mapping, and
the run-folder readers of the carbon accounts."""

from __future__ import annotations

import pandas as pd
import pytest

from gridcarbon.errors import InputDataError, InputFileError
from gridcarbon.io.synergy_files import (
    read_bounds,
    read_indicator_values,
    read_peak_spec,
    read_run_city_totals,
    read_run_posterior_totals,
)
from gridcarbon.synergy.index import load_indicator_system


def test_read_bounds_errors_name_the_line(tmp_path):
    path = tmp_path / "b.csv"
    pd.DataFrame({"指标编号": [1, 2], "最差值": [35, "bad"], "最优值": [5, 10]}).to_csv(
        path, index=False
    )
    with pytest.raises(InputDataError, match=r"b.csv, line 3: worst 'bad' is not a number"):
        read_bounds(path)
    pd.DataFrame({"indicator_no": [1], "worst": [35], "best": [5]}).to_csv(path, index=False)
    assert read_bounds(path)[["worst", "best"]].values.tolist() == [[35, 5]]


def test_peak_spec_yaml_and_errors(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("base_year: 2020\nend_year: 2022\n", encoding="utf-8")
    assert read_peak_spec(path)["end_year"] == 2022
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="mapping"):
        read_peak_spec(path)
    csv = tmp_path / "p.csv"
    pd.DataFrame(
        {
            "scenario": ["base", "s"],
            "factor": ["population", "population"],
            "years": ["2020", "2021-2030"],
            "value": ["100", "fast"],
        }
    ).to_csv(csv, index=False)
    with pytest.raises(InputDataError, match=r"p.csv, line 3: value 'fast'"):
        read_peak_spec(csv)


def test_two_columns_for_one_field_are_refused(tmp_path):
    path = tmp_path / "v.csv"
    pd.DataFrame(
        {
            "region_code": ["330100"],
            "地区代码": ["330200"],
            "period": ["2022Q4"],
            "indicator_no": [1],
            "value": [30],
        }
    ).to_csv(path, index=False)
    with pytest.raises(InputDataError, match="two columns map to 'region_code'"):
        read_indicator_values(path, load_indicator_system().table)


def test_indicator_number_and_name_must_agree(tmp_path):
    path = tmp_path / "v.csv"
    pd.DataFrame(
        {
            "region_code": ["330100"],
            "period": ["2022Q4"],
            "indicator_no": [2],
            "indicator": ["PM2.5浓度"],
            "value": [30],
        }
    ).to_csv(path, index=False)
    with pytest.raises(InputDataError, match="number 2 and name 'PM2.5浓度' .*disagree"):
        read_indicator_values(path, load_indicator_system().table)


def _mini_run(folder):
    """The few run-folder files the carbon-account readers use, written by hand."""
    folder.mkdir()
    pd.DataFrame(
        {"city_code": ["330100", "330200"], "CO2_kg": [2e6, 3e6], "NOx_kg": [10.0, 20.0]}
    ).to_csv(folder / "zone_rollup_city.csv", index=False)
    pd.DataFrame(
        {
            "unit_code": ["U1", "U2", "U3"],
            "county_code": ["330102", "330102", "330203"],
            "city_code": ["330100", "330100", "330200"],
            "CO2_kg": [1e6, 1e6, 3e6],
        }
    ).to_csv(folder / "zone_units.csv", index=False)
    pd.DataFrame(
        {
            "segment": ["points", "points", "grid"],
            "key": ["P1", "P1", "x"],
            "species": ["CO2", "NOx", "CO2"],
            "prior": [1.0, 1.0, 1.0],
            "prior_std": [0.5, 0.5, 0.5],
            "posterior": [1.2, 0.9, 1.0],
            "posterior_std": [0.1, 0.1, 0.1],
        }
    ).to_csv(folder / "inversion_extras.csv", index=False)
    pd.DataFrame(
        {
            "point_id": ["P1", "P2"],
            "point_name": ["a #1", "b #2"],
            "point_sector": ["power", "power"],
            "point_lon": [120.0, 121.0],
            "point_lat": [30.0, 29.0],
            "CO2_kg_period": [5e5, 1e5],
            "NOx_kg_period": [1e3, 1e2],
        }
    ).to_csv(folder / "prior_point_sources.csv", index=False)
    (folder / "summary.json").write_text(
        '{"prior": {"period_utc": ["2022-12-31T16:00", "2023-12-31T16:00"]}}', encoding="utf-8"
    )
    return folder


def test_run_folder_totals_of_any_species(tmp_path):
    run = _mini_run(tmp_path / "run")
    table, first, last = read_run_city_totals(run, "CO2")
    assert table["total_t"].tolist() == [2000.0, 3000.0]
    assert (first, last) == (pd.Timestamp("2023-01-01"), pd.Timestamp("2023-12-31"))
    assert read_run_city_totals(run, "NOx")[0]["total_t"].tolist() == [0.01, 0.02]
    with pytest.raises(InputDataError, match="no column 'SO2_kg'"):
        read_run_city_totals(run, "SO2")
    assert read_run_posterior_totals(run, "county", "CO2").to_dict() == {
        "330102": 2000.0,
        "330203": 3000.0,
    }
    # a stack with its own unknown: its prior period total (t) times the posterior factor
    facility = read_run_posterior_totals(run, "facility", "NOx")
    assert facility.to_dict() == {"P1": pytest.approx(0.9)}
    with pytest.raises(InputDataError, match="level 'park'"):
        read_run_posterior_totals(run, "park", "CO2")


def test_missing_run_file_names_the_command(tmp_path):
    run = _mini_run(tmp_path / "run")
    (run / "summary.json").unlink()
    with pytest.raises(InputFileError, match=r"summary.json' does not exist; run `gridcarbon run"):
        read_run_city_totals(run, "CO2")
