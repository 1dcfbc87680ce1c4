"""Class breaks, colours and legends."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcarbon.config.maps import MapConfig
from gridcarbon.errors import ConfigError
from gridcarbon.maps.scales import (
    NODATA,
    ClassScale,
    colors_from,
    diverging_scale,
    fixed_scale,
    fmt,
    legend_section,
    light_to_dark,
    lightness,
    sequential_scale,
)


def test_linear_scale_for_narrow_data():
    v = np.linspace(0, 95, 200)
    s = sequential_scale(v, "x", "kg", n_classes=8)
    assert not s.log
    assert s.breaks[0] == 0 and s.breaks[-1] >= np.percentile(v[v > 0], 99.5)
    assert np.allclose(np.diff(s.breaks), s.breaks[1] - s.breaks[0])  # equal steps
    assert 5 <= s.n <= 10


def test_log_scale_when_data_span_decades():
    v = np.logspace(-1, 4, 500)
    s = sequential_scale(v, "x", "kg")
    assert s.log
    ratios = {round(b / 10 ** np.floor(np.log10(b)), 6) for b in s.breaks}
    assert ratios <= {1.0, 2.0, 5.0, 3.0}
    assert s.breaks[0] <= np.percentile(v, 2) and s.breaks[-1] >= np.percentile(v, 99.5)
    assert not sequential_scale(v, "x", "kg", log="never").log


def test_diverging_is_symmetric_and_centred():
    rng = np.random.default_rng(0)
    v = rng.normal(0, 10, 1000)
    s = diverging_scale(v, "d", "kg")
    b = np.asarray(s.breaks)
    assert np.allclose(b, -b[::-1])
    assert s.n % 2 == 1
    mid = s.n // 2
    assert s.classify(np.array([0.0]))[0] == mid  # zero sits in the centre class
    assert s.classify(np.array([b[-1] * 10]))[0] == s.n - 1
    assert s.classify(np.array([b[0] * 10]))[0] == 0
    # red for increase, blue for decrease (RdBu reversed)
    hi, lo = s.colors[-1], s.colors[0]
    assert int(hi[1:3], 16) > int(hi[5:7], 16) and int(lo[5:7], 16) > int(lo[1:3], 16)


def test_diverging_log_when_span_decades():
    v = np.concatenate([np.logspace(-2, 3, 300), -np.logspace(-2, 2, 300)])
    s = diverging_scale(v, "d", "kg")
    assert s.log and np.allclose(s.breaks, -np.asarray(s.breaks)[::-1])


def test_classify_edges_and_nodata():
    s = ClassScale(
        (0.0, 1.0, 2.0, 3.0),
        ("#000000", "#111111", "#222222"),
        "t",
        open_low=False,
        open_high=False,
    )
    got = s.classify(np.array([-1, 0, 0.5, 1, 2.999, 3, 3.5, np.nan]))
    assert got.tolist() == [NODATA, 0, 0, 1, 2, 2, NODATA, NODATA]
    s2 = ClassScale((0.0, 1.0, 2.0), ("#000000", "#111111"), "t")
    assert s2.classify(np.array([-5, 99])).tolist() == [0, 1]
    assert s2.labels() == ["< 1", "≥ 1"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1e7, allow_nan=False), min_size=1, max_size=60))
def test_sequential_classes_are_monotone(values):
    v = np.asarray(values)
    s = sequential_scale(v, "x", "kg")
    cls = s.classify(np.sort(v)).astype(int)
    assert np.all(np.diff(cls) >= 0)
    assert cls.max() < s.n


def test_fixed_scale_and_legend_is_text_data():
    s = fixed_scale(np.linspace(0, 1, 11).tolist(), "<b>UR</b>", "1", "plasma")
    assert s.n == 10
    section = legend_section(s, "sub <i>", [("#e4e4e4", "0")])
    # plain text (drawn with textContent in the browser), highest class first, extras last
    assert section["title"] == "<b>UR</b>" and section["subtitle"] == "sub <i>"
    assert [r["color"] for r in section["rows"]] == [*reversed(s.colors), "#e4e4e4"]
    assert section["rows"][0]["label"] == s.labels()[-1] and section["rows"][-1]["label"] == "0"


def test_colors_and_fmt():
    c = colors_from("viridis", 5)
    assert len(c) == 5 and len(set(c)) == 5 and all(x.startswith("#") for x in c)
    with pytest.raises(ConfigError):
        colors_from("no-such-map", 3)
    assert fmt(1234.5) == "1,230" and fmt(0.01234) == "0.0123" and fmt(0) == "0"
    assert fmt(float("nan")) == "–" and fmt(2.5e6) == "2,500,000"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3e8, "300,000,000"),
        (1e9, "1,000,000,000"),
        (30_000, "30,000"),
        (123_456, "123,000"),
        (0.0001234, "0.000123"),
        (-5678, "-5,680"),
        (99.95, "100"),
    ],
)
def test_fmt_writes_every_magnitude_one_way(value, text):
    assert fmt(value) == text


def test_legend_labels_have_no_exponent_or_si_prefix():
    s = sequential_scale(np.logspace(2, 10, 400), "x", "kg")
    assert s.log and s.breaks[-1] >= 1e9
    for label in s.labels():
        number = label.lstrip("<≥ ").replace(" – ", "")
        assert set(number) <= set("0123456789,.-"), label


def test_lightness_is_cie_lstar():
    assert lightness("#000000") == pytest.approx(0.0, abs=1e-9)
    assert lightness("#ffffff") == pytest.approx(100.0, abs=1e-6)
    assert lightness("#777777") == pytest.approx(50.03, abs=0.05)  # sRGB 119 ≈ mid grey
    assert lightness("#ff0000") == pytest.approx(53.24, abs=0.05)


@pytest.mark.parametrize("colormap", ["YlOrRd_09", "YlGnBu_09", "viridis", "magma", "plasma"])
@pytest.mark.parametrize("log", ["always", "never"])
def test_sequential_class_lightness_falls_as_value_rises(colormap, log):
    """Whatever the colormap's direction, the lowest class is the lightest (least salient)."""
    s = sequential_scale(np.logspace(0, 6, 300), "x", "kg", colormap, log=log)
    assert s.n >= 5
    lstar = [lightness(c) for c in s.colors]  # class order: value rises
    assert np.all(np.diff(lstar) < 0), lstar
    # the legend lists the highest class first: its lightness rises down the rows
    rows = legend_section(s)["rows"]
    assert np.all(np.diff([lightness(r["color"]) for r in rows]) > 0)


def test_default_map_colormaps_run_light_to_dark():
    cfg = MapConfig()
    for name in (cfg.colormap_sequential, cfg.colormap_units, cfg.colormap_reduction):
        lstar = [lightness(c) for c in light_to_dark(name, cfg.n_classes)]
        assert np.all(np.diff(lstar) < 0), (name, lstar)
    assert lightness(light_to_dark(cfg.colormap_units, cfg.n_classes)[0]) > 85
