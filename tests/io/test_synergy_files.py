"""Synergy readers and writers: formula-safe CSV/Excel, bounds, peak specs, header mapping."""

from __future__ import annotations

import pandas as pd
import pytest

from gridcarbon.errors import InputDataError, InputFileError
from gridcarbon.io.synergy_files import read_bounds, read_indicator_values, read_peak_spec
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
