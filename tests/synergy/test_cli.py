"""`gridcarbon synergy …` end to end: tables in, labelled and formula-safe files out."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from gridcarbon.cli import cli
from gridcarbon.synergy.index import load_indicator_system
from gridcarbon.synergy.unit_series import read_unit_daily

HOSTILE = '=HYPERLINK("http://x","<b>杭州</b>")'


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, ["synergy", *args], obj={}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _values(tmp_path):
    system = load_indicator_system()
    t = system.table.set_index("level3_no")
    rows = []
    names = {"330100": HOSTILE, "330200": "宁波市", "330300": "@SUM(A1)"}
    for k, code in enumerate(names):
        for n in system.numbers:
            lo, hi = t.loc[n, "plausible_min"], t.loc[n, "plausible_max"]
            v = "强脱钩" if n == 8 else lo + (hi - lo) * (0.2 + 0.3 * k)
            rows.append([code, names[code], "2022Q4", n, v, "示例 illustrative", "2023-03-01"])
    header = ["地区代码", "地区名称", "时期", "指标编号", "数值", "数据来源", "截至"]
    path = tmp_path / "values.csv"
    pd.DataFrame(rows, columns=header).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def test_index_command_labels_and_escapes(tmp_path):
    out = tmp_path / "out"
    _invoke("index", str(_values(tmp_path)), "--out", str(out))
    scores = pd.read_csv(out / "synergy_index_scores.csv", dtype={"region_code": str})
    assert (scores["label"].str.contains("非官方测算")).all()
    assert scores["rank"].tolist() == [3, 2, 1]
    # CSV: text that would start a formula is prefixed with '
    raw = (out / "synergy_index_scores.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in raw and "'@SUM(A1)" in raw
    # Excel: every cell with that text is a string, never a formula
    wb = load_workbook(out / "synergy_index.xlsx")
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    hostile = [c for c in cells if c.value.startswith(("=", "@"))]
    assert hostile and all(c.data_type == "s" for c in hostile)
    prov = pd.read_excel(out / "synergy_index.xlsx", sheet_name="provenance")
    assert set(prov["source"]) == {"示例 illustrative"} and len(prov) == 72
    settings = pd.read_excel(out / "synergy_index.xlsx", sheet_name="settings")
    assert "cross_section" in settings["value"].tolist()
    # HTML: escaped
    html = (out / "synergy_index.html").read_text(encoding="utf-8")
    assert "<b>杭州</b>" not in html and "&lt;b&gt;杭州&lt;/b&gt;" in html


def test_state_score_table_changes_indicator_8(tmp_path):
    states = tmp_path / "states.csv"
    pd.DataFrame({"state": ["strong_decoupling"], "achievement": [0.5]}).to_csv(states, index=False)
    _invoke(
        "index", str(_values(tmp_path)), "--state-scores", str(states), "--out", str(tmp_path / "o")
    )
    ind = pd.read_csv(tmp_path / "o" / "synergy_index_indicator_scores.csv")
    assert ind.loc[ind["level3_no"] == 8, "score"].tolist() == [80.0] * 3


def test_template_command_refuses_to_overwrite(tmp_path):
    path = tmp_path / "t.csv"
    _invoke("template", str(path))
    result = CliRunner().invoke(cli, ["synergy", "template", str(path)], obj={})
    assert result.exit_code == 1 and "already exists" in result.output  # a data error


def test_bad_values_give_one_clear_error(tmp_path):
    path = tmp_path / "v.csv"
    pd.DataFrame(
        {"region_code": ["330100"], "period": ["2022Q4"], "indicator": ["no such"], "value": [1]}
    ).to_csv(path, index=False)
    result = CliRunner().invoke(
        cli, ["synergy", "index", str(path), "--out", str(tmp_path / "o")], obj={}
    )
    assert result.exit_code == 1  # a data error, one line
    assert "v.csv, line 2: unknown indicator name 'no such'" in result.output
    assert not (tmp_path / "o" / "synergy_index.xlsx").exists()


def test_allocate_and_decoupling_commands(tmp_path):
    table = tmp_path / "entities.csv"
    pd.DataFrame(
        {"entity": ["A", HOSTILE, "C"], "base_t": [5.0, 3.0, 2.0], "post": [4.0, 4.0, 1.0]}
    ).to_csv(table, index=False)
    out = tmp_path / "alloc"
    _invoke(
        "allocate",
        str(table),
        "--cap",
        "1001",
        "--method",
        "historical",
        "--posterior-column",
        "post",
        "--out",
        str(out),
    )
    alloc = pd.read_csv(out / "synergy_allocation_allocation.csv")
    assert alloc["allocation_t"].sum() == 1001
    assert alloc["entity"].iloc[1].startswith("'=")
    emissions = tmp_path / "em.csv"
    pd.DataFrame(
        {"region_code": ["330100", "330100"], "year": [2020, 2022], "emissions": [100.0, 99.0]}
    ).to_csv(emissions, index=False)
    _invoke(
        "decoupling",
        str(emissions),
        "--base-year",
        "2020",
        "--year",
        "2022",
        "--out",
        str(tmp_path / "dec"),
    )
    tapio = pd.read_csv(tmp_path / "dec" / "synergy_decoupling_tapio.csv")
    assert tapio["state"].item() == "strong_decoupling"
    # the shipped GDP is unverified: the table and its settings sheet say so
    assert tapio["gdp_verified"].item() == "no"
    assert tapio["gdp_note"].item().startswith("GDP UNVERIFIED")
    settings = pd.read_excel(tmp_path / "dec" / "synergy_decoupling.xlsx", sheet_name="settings")
    assert settings.set_index("key").loc["gdp", "value"].startswith("GDP UNVERIFIED")


def test_peak_command_writes_plot(tmp_path):
    spec = tmp_path / "peak.csv"
    rows = [
        ["base", f, 2020, v]
        for f, v in (
            ("population", 100),
            ("gdp_per_capita", 1000),
            ("energy_intensity", 0.5),
            ("carbon_intensity", 2.0),
        )
    ]
    rows += [
        ["low", f, "2021-2030", r]
        for f, r in (
            ("population", 0.0),
            ("gdp_per_capita", 5.0),
            ("energy_intensity", -4.0),
            ("carbon_intensity", -3.0),
        )
    ]
    rows += [["uncertainty", "gdp_per_capita", "", 1.0]]
    pd.DataFrame(rows, columns=["scenario", "factor", "years", "value"]).to_csv(spec, index=False)
    out = tmp_path / "peak"
    _invoke("peak", str(spec), "--draws", "200", "--out", str(out))
    peaks = pd.read_csv(out / "synergy_peak_peaks.csv")
    assert peaks["peak_year"].item() == 2020  # 1.05 · 0.96 · 0.97 < 1: falls from the start
    svg = (out / "synergy_peak.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "polyline" in svg
    page = (out / "synergy_peak.html").read_text(encoding="utf-8")
    assert 'src="data:image/svg+xml;base64,' in page and "<svg" not in page  # an image, not markup


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    from gridcarbon import pipeline
    from gridcarbon.config import RunConfig

    cfg = RunConfig.validate_dict(
        {  # the default scenario on 30 km cells over a week
            "grid": {"cell_size_m": 30000.0},
            "period": {"start": dt.date(2023, 1, 10), "end": dt.date(2023, 1, 16)},
            "zoning": {"gi_radius_m": 65000.0},
            "maps": {"enabled": False},
        }
    )
    out = tmp_path_factory.mktemp("run") / "run"
    pipeline.run(cfg, out_dir=out)
    return out


@pytest.mark.slow
def test_run_commands_on_a_small_default_run(small_run, tmp_path):
    series = read_unit_daily(small_run)
    assert series.synthetic and len(series.days) == 7
    units = pd.read_csv(small_run / "zone_units.csv")
    # the unit tallies add up to the zoning stage's period totals
    assert np.allclose(series.posterior["CO2"].sum(axis=1), units["CO2_kg"], rtol=1e-6)
    _invoke("cocontrol", "--run", str(small_run), "--level", "city", "--out", str(tmp_path / "c"))
    corr = pd.read_csv(tmp_path / "c" / "synergy_cocontrol_correlation.csv")
    assert len(corr) == 11 and {"rho_NOx", "q_NOx", "priority"} <= set(corr.columns)
    _invoke("rating", "--run", str(small_run), "--anonymise", "--out", str(tmp_path / "r"))
    rated = pd.read_csv(tmp_path / "r" / "synergy_rating_rating.csv")
    assert rated["name"].str.fullmatch(r"E\d{4}").all()
    geo = json.loads((tmp_path / "r" / "synergy_rating.geojson").read_text(encoding="utf-8"))
    assert len(geo["features"]) == len(rated)
    assert not any("#" in f["properties"]["name"] for f in geo["features"])
    assert "SYNTHETIC" in (tmp_path / "r" / "synergy_rating.html").read_text(encoding="utf-8")
    # allocation with a facility-level carbon account: only stacks with own unknowns compared
    points = pd.read_csv(small_run / "prior_point_sources.csv")
    fac = tmp_path / "fac.csv"
    pd.DataFrame({"entity": points["point_id"], "base_t": points["CO2_kg_period"] / 1e3}).to_csv(
        fac, index=False
    )
    _invoke(
        "allocate",
        str(fac),
        "--cap",
        "1000000",
        "--method",
        "historical",
        "--run",
        str(small_run),
        "--level",
        "facility",
        "--out",
        str(tmp_path / "a"),
    )
    acc = pd.read_csv(tmp_path / "a" / "synergy_allocation_allocation.csv")
    own = set(pd.read_csv(small_run / "inversion_extras.csv").query("segment == 'points'")["key"])
    assert set(acc.loc[acc["compared"], "entity"]) == own & set(acc["entity"])
    assert acc["allocation_t"].sum() == 1_000_000
    # model CO2 per unit GDP: refused for a week-long run (and on synthetic grids)
    result = CliRunner().invoke(
        cli,
        [
            "synergy",
            "index",
            str(_values(tmp_path)),
            "--run",
            str(small_run),
            "--out",
            str(tmp_path / "i"),
        ],
        obj={},
    )
    assert result.exit_code == 1 and "not one whole calendar year" in result.output
    _invoke("crosscheck", "--run", str(small_run), "--out", str(tmp_path / "x"))
    check = pd.read_csv(tmp_path / "x" / "synergy_crosscheck_crosscheck.csv")
    assert len(check) > 0 and set(check["test"]).issubset(
        {"independent", "prior", "not tested: uncertainty reduction < 20%"}
        | {t for t in check["test"] if t.startswith("not tested: approximate posterior σ")}
    )
    # with an approximate posterior σ the prior-as-reported test is never made
    if (check["solver"] != "dense").all():
        assert "prior" not in set(check["test"])
