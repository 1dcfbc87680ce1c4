"""The satellite column layers (:mod:`gridcarbon.maps.layers_columns`): one overpass's
superobservations observed, posterior fit and residual, in their group, with popups, in English
and Chinese, the overpass chosen by ``maps.column_overpass``; hostile overpass ids stay text."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from fixtures import XSS_SCRIPT, layer_control_names

from gridcarbon.config.maps import MapConfig
from gridcarbon.errors import InputDataError
from gridcarbon.maps import make_map
from gridcarbon.maps.build import map_html
from gridcarbon.maps.layers_columns import COLUMN_LAYER_NAMES, choose_overpass


def column_table(grid, labels=("orbit-a", XSS_SCRIPT), sizes=(6, 9), hours=(5, 29)):
    """Superobservations of two overpasses on ``grid``: 9 km boxes inside it."""
    rows = []
    rng = np.random.default_rng(0)
    for label, n, hour in zip(labels, sizes, hours, strict=True):
        for k in range(n):
            x = grid.x_min + 1500.0 + 3000.0 * (k % grid.nx)
            y = grid.y_max - 1500.0 - 3000.0 * (k // grid.nx)
            obs = 2e-5 + 1e-6 * k
            fit = obs - rng.normal(0, 1e-6)
            rows.append(
                {
                    "observation_type": "column",
                    "product": "S5P_L2__NO2___",
                    "species": "NO2",
                    "unit": "mol m-2",
                    "overpass": label,
                    "time": pd.Timestamp("2023-01-01 05:31") + pd.Timedelta(hours=hour),
                    "x": x,
                    "y": y,
                    "box_x_min": x - 1500.0,
                    "box_x_max": x + 1500.0,
                    "box_y_min": y - 1500.0,
                    "box_y_max": y + 1500.0,
                    "n_pixels": 3,
                    "used": True,
                    "observed": obs,
                    "posterior_fit": fit,
                    "prior_fit": fit * 0.9,
                    "background": 1.5e-5,
                    "residual": obs - fit,
                    "sigma": 1e-6,
                }
            )
    return pd.DataFrame(rows)


def _popup_props(page: str) -> list[dict]:
    """Feature properties of the column layers' GeoJSON (features with an overpass time)."""
    out = []
    decoder = json.JSONDecoder()
    for m in re.finditer(r"_add\(\{", page):
        data, _ = decoder.raw_decode(page, m.end() - 1)
        out += [f["properties"] for f in data["features"] if "time_bj" in f["properties"]]
    return out


def test_column_layers_of_the_largest_overpass(small):
    table = column_table(small["grid"])
    inputs = replace(small["inputs"], column_observations=table)
    page = map_html(make_map(inputs))
    names = layer_control_names(page)
    assert set(COLUMN_LAYER_NAMES.values()) <= set(names)
    assert '"Column observations"' in page  # the group
    props = _popup_props(page)
    # three layers of the largest overpass (9 superobservations), its id kept as text
    assert len(props) == 3 * 9
    assert {p["overpass"] for p in props} == {XSS_SCRIPT}
    assert XSS_SCRIPT not in page
    p = props[0]
    assert p["time_utc"] == "2023-01-02 10:31" and p["time_bj"] == "2023-01-02 18:31"
    assert p["observed"].endswith("µmol m⁻²") and p["observed"].startswith("20")  # 2e-5 mol m-2
    for alias in ("time (UTC)", "time (Beijing)", "residual (obs − posterior fit)"):
        assert json.dumps(alias) in page  # JSON in the page: ASCII, escaped
    assert "bindPopup" in page


def test_no_column_layers_without_column_observations(small):
    names = layer_control_names(map_html(make_map(small["inputs"])))
    assert not set(COLUMN_LAYER_NAMES.values()) & set(names)


def test_no_column_layers_when_no_overpass_was_assimilated(small):
    table = column_table(small["grid"]).assign(used=False)
    names = layer_control_names(
        map_html(make_map(replace(small["inputs"], column_observations=table)))
    )
    assert not set(COLUMN_LAYER_NAMES.values()) & set(names)


def test_column_layers_in_chinese(small):
    inputs = replace(small["inputs"], column_observations=column_table(small["grid"]))
    page = map_html(make_map(inputs, language="zh"))
    names = layer_control_names(page)
    assert {"柱浓度：观测值", "柱浓度：后验拟合", "柱浓度：残差（观测−后验）"} <= set(names)
    assert json.dumps("卫星柱浓度观测") in page and json.dumps("时间（北京时间）") in page
    assert "Columns: observed" not in page.split("<body>", 1)[1]


def test_the_overpass_is_chosen_by_the_config(small):
    table = column_table(small["grid"])
    assert choose_overpass(table, "largest") == XSS_SCRIPT
    assert choose_overpass(table, "first") == "orbit-a"
    assert choose_overpass(table, "orbit-a") == "orbit-a"
    assert choose_overpass(table, "2023-01-01T09:00") == "orbit-a"
    assert choose_overpass(table, "2023-01-02T09:00Z") == XSS_SCRIPT
    with pytest.raises(InputDataError, match="no overpass within 3 hours"):
        choose_overpass(table, "2023-01-05T06:00")
    with pytest.raises(InputDataError, match="the overpasses are: orbit-a"):
        choose_overpass(table, "orbit-z")
    inputs = replace(small["inputs"], column_observations=table)
    page = map_html(make_map(inputs, MapConfig(column_overpass="first")))
    assert {p["overpass"] for p in _popup_props(page)} == {"orbit-a"}
    # an overpass not assimilated (used False) is never drawn
    unused = table.assign(used=table["overpass"] == "orbit-a")
    assert choose_overpass(unused, "largest") == "orbit-a"


def test_a_bad_overpass_choice_is_refused_by_the_config():
    with pytest.raises(ValueError, match="not an overpass choice"):
        MapConfig(column_overpass="  ")
