"""The synergy index: shipped weights, the 11-city example workbook, monotonicity, bounds, input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.io.geodata import package_data_path
from gridcarbon.io.synergy_files import INDICATOR_FILE, read_indicator_values, write_template
from gridcarbon.synergy.index import (
    UNOFFICIAL_LABEL,
    UnitWarning,
    achievement,
    check_weights,
    load_indicator_system,
    rank_min,
    synergy_index,
)

EXAMPLE = Path(__file__).with_name("data") / "index_example_11_cities.xlsx"
SYSTEM = load_indicator_system()


def test_shipped_weights_sum_to_one_within_each_parent():
    table = pd.read_csv(package_data_path(INDICATOR_FILE))
    assert len(table) == 24
    assert table["category"].nunique() == 3
    assert table["level1"].nunique() == 6
    assert table["level2"].nunique() == 16
    assert table.drop_duplicates("level1")["level1_weight"].sum() == pytest.approx(1, abs=1e-12)
    for _, group in table.drop_duplicates(["level1", "level2"]).groupby("level1"):
        assert group["level2_weight"].sum() == pytest.approx(1, abs=1e-12)
    for _, group in table.groupby("level2"):
        assert group["level3_weight"].sum() == pytest.approx(1, abs=1e-12)
    # matches the reference table's weights and data sources
    assert set(table["direction"]) == {"higher", "lower", "state"}
    assert table.loc[table["level3_no"] == 8, "direction"].item() == "state"
    lower = set(table.loc[table["direction"] == "lower", "level3_no"])
    assert lower == {1, 3, 5, 13, 16}
    check_weights(table)
    broken = table.copy()
    broken.loc[broken["level3_no"] == 1, "level3_weight"] = 0.25
    with pytest.raises(InputDataError, match="third-level weights under '大气环境' sum to 1.05"):
        check_weights(broken)


def _example():
    wb_values = load_workbook(EXAMPLE, data_only=True)
    sheet = wb_values["values"].values
    header = next(sheet)
    wide = pd.DataFrame(list(sheet), columns=header)
    long = wide.melt(
        id_vars=["region_code", "region_name", "period"], var_name="level3_no", value_name="value"
    )
    bounds = pd.DataFrame(
        list(wb_values["bounds"].values)[1:], columns=["level3_no", "worst", "best"]
    )
    scores = wb_values["scores"].values
    head = next(scores)
    expected = pd.DataFrame(list(scores), columns=head).set_index("region_code")
    return long, bounds, expected


def test_example_workbook_formulas_are_visible():
    wb = load_workbook(EXAMPLE)
    ws = wb["scores"]
    formulas = [c.value for row in ws.iter_rows(min_row=2) for c in row[2:]]
    assert len(formulas) == 11 * (24 + 16 + 6 + 2)
    assert all(isinstance(f, str) and f.startswith("=") for f in formulas)
    assert "ILLUSTRATIVE" in wb["README"]["A1"].value


def test_example_workbook_reproduced_exactly():
    long, bounds, expected = _example()
    res = synergy_index(long, SYSTEM, bounds="fixed", fixed_bounds=bounds)
    got = res.scores.set_index("region_code")
    # per-indicator scores
    ind = res.indicator_scores.pivot(index="region_code", columns="level3_no", values="score")
    for n in SYSTEM.numbers:
        want = pd.to_numeric(expected[f"s{n}"], errors="coerce")
        assert np.allclose(ind[n].reindex(want.index), want, rtol=0, atol=1e-9, equal_nan=True), n
    for col in [c for c in expected.columns if c.startswith(("L1:", "L2:"))] + ["total"]:
        want = pd.to_numeric(expected[col], errors="coerce")
        assert np.allclose(got[col].reindex(want.index), want, rtol=0, atol=1e-9, equal_nan=True), (
            col
        )
    want_rank = pd.to_numeric(expected["rank"], errors="coerce")
    assert got["rank"].reindex(want_rank.index).astype(float).equals(want_rank.astype(float))
    # the cases the workbook holds
    assert got.loc["330400", "total"] == got.loc["330500", "total"]  # the tie …
    assert sorted(got["rank"].dropna().astype(int))[:4] == [1, 2, 2, 4]  # … shares rank 2
    assert np.isnan(got.loc["331100", "total"]) and pd.isna(got.loc["331100", "rank"])
    assert ind.loc["330100", 1] == 100.0  # beyond the best bound: clipped
    assert ind.loc["330800", 20] == 60.0  # beyond the worst bound: clipped
    assert ind.loc["330200", 24] == 100.0 and ind.loc["330300", 24] == 60.0  # best = worst
    assert (got["label"] == UNOFFICIAL_LABEL).all()
    assert res.settings["bounds"] == "fixed" and res.settings["method"] == "efficacy"


def test_missing_indicator_renormalised_on_request():
    long, bounds, _ = _example()
    res = synergy_index(long, SYSTEM, bounds="fixed", fixed_bounds=bounds, renormalise=True)
    got = res.scores.set_index("region_code")
    lishui = res.indicator_scores.query("region_code == '331100'").set_index("level3_no")["score"]
    # 交通运输结构优化 = indicator 11 alone (its weight 0.5 of 1 renormalised to 1)
    assert got.loc["331100", "L2:交通运输结构优化"] == pytest.approx(lishui[11], abs=1e-12)
    assert np.isfinite(got.loc["331100", "total"])
    assert got.loc["331100", "n_missing"] == 1


def _one_period(values: dict[int, list[float]], regions: int = 4) -> pd.DataFrame:
    rows = []
    for r in range(regions):
        for n in SYSTEM.numbers:
            v = "weak_decoupling" if n == 8 else values[n][r]
            rows.append((f"3301{r:02d}", "2022Q4", n, v))
    return pd.DataFrame(rows, columns=["region_code", "period", "level3_no", "value"])


_NUMERIC = [n for n in SYSTEM.numbers if n != 8]


def _spread(fractions: list[float]) -> dict[int, list[float]]:
    """Values at the given fractions of each indicator's plausible range."""
    t = SYSTEM.table.set_index("level3_no")
    return {
        n: [
            t.loc[n, "plausible_min"] + f * (t.loc[n, "plausible_max"] - t.loc[n, "plausible_min"])
            for f in fractions
        ]
        for n in _NUMERIC
    }


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::gridcarbon.synergy.index.UnitWarning")
@settings(max_examples=25, deadline=None)
@given(
    data=st.lists(st.lists(st.floats(1.0, 99.0), min_size=4, max_size=4), min_size=23, max_size=23),
    which=st.sampled_from(_NUMERIC),
    region=st.integers(0, 3),
    step=st.floats(0.01, 50.0),
    mode=st.sampled_from(["cross_section", "fixed", "minmax", "target"]),
)
def test_improving_an_indicator_never_lowers_the_total(data, which, region, step, mode):
    lo = dict(zip(SYSTEM.table["level3_no"], SYSTEM.table["plausible_min"], strict=True))
    hi = dict(zip(SYSTEM.table["level3_no"], SYSTEM.table["plausible_max"], strict=True))
    values = {}
    for n, col in zip(_NUMERIC, data, strict=True):
        values[n] = [lo[n] + (hi[n] - lo[n]) * v / 100.0 for v in col]
    direction = SYSTEM.table.set_index("level3_no").loc[which, "direction"]
    better = [list(v) for v in values.values()]
    better = dict(zip(_NUMERIC, better, strict=True))
    delta = (hi[which] - lo[which]) * step / 100.0
    new = better[which][region] + (delta if direction == "higher" else -delta)
    better[which][region] = min(max(new, lo[which]), hi[which])
    bounds = pd.DataFrame(
        {
            "level3_no": _NUMERIC,
            "worst": [
                lo[n]
                if SYSTEM.table.set_index("level3_no").loc[n, "direction"] == "higher"
                else hi[n]
                for n in _NUMERIC
            ],
            "best": [
                hi[n]
                if SYSTEM.table.set_index("level3_no").loc[n, "direction"] == "higher"
                else lo[n]
                for n in _NUMERIC
            ],
            "target": [(lo[n] + hi[n]) / 2 if lo[n] + hi[n] > 0 else hi[n] / 2 for n in _NUMERIC],
        }
    )
    kwargs = {
        "cross_section": {},
        "fixed": {"bounds": "fixed", "fixed_bounds": bounds},
        "minmax": {"method": "minmax"},
        "target": {"method": "target", "bounds": "fixed", "fixed_bounds": bounds},
    }[mode]
    before = synergy_index(_one_period(values), SYSTEM, **kwargs).scores["total"][region]
    after = synergy_index(_one_period(better), SYSTEM, **kwargs).scores["total"][region]
    assert after >= before - 1e-9


def test_direction_and_normalisation_at_the_bounds():
    # higher is better: worst 10, best 20
    t = achievement(np.array([10.0, 15.0, 20.0, 25.0, 5.0]), "higher", 10.0, 20.0)
    assert t.tolist() == [0.0, 0.5, 1.0, 1.0, 0.0]
    # lower is better: worst 20, best 10
    t = achievement(np.array([20.0, 15.0, 10.0, 5.0, 25.0]), "lower", 20.0, 10.0)
    assert t.tolist() == [0.0, 0.5, 1.0, 1.0, 0.0]
    # best = worst
    assert achievement(np.array([7.0, 8.0]), "higher", 7.0, 7.0).tolist() == [1.0, 1.0]
    assert achievement(np.array([7.0, 6.0]), "higher", 7.0, 7.0).tolist() == [1.0, 0.0]
    assert achievement(np.array([7.0, 8.0]), "lower", 7.0, 7.0).tolist() == [1.0, 0.0]
    # cross-section: the best region scores 100, the worst 60, lower-is-better PM2.5 reversed
    values = _spread([0.1, 0.2, 0.3, 0.4])
    res = synergy_index(_one_period(values), SYSTEM)
    pm25 = res.indicator_scores.query("level3_no == 1")["score"].tolist()
    share = res.indicator_scores.query("level3_no == 9")["score"].tolist()
    assert pm25 == pytest.approx([100.0, 100 - 40 / 3, 60 + 40 / 3, 60.0])
    assert share == pytest.approx([60.0, 60 + 40 / 3, 100 - 40 / 3, 100.0])
    minmax = synergy_index(_one_period(values), SYSTEM, method="minmax")
    assert minmax.indicator_scores.query("level3_no == 9")["score"].tolist() == pytest.approx(
        [0.0, 100 / 3, 200 / 3, 100.0]
    )


def test_base_period_bounds_and_change():
    a = _one_period(_spread([0.1, 0.2, 0.3, 0.4]))
    b = a.assign(period="2023Q4")
    b.loc[(b["level3_no"] == 9) & (b["region_code"] == "330100"), "value"] = 50.0  # beyond best
    res = synergy_index(pd.concat([a, b]), SYSTEM, bounds="base_period", base_period="2022Q4")
    s = res.indicator_scores.query("level3_no == 9 and period == '2023Q4'")["score"]
    assert s.tolist() == pytest.approx([100.0, 60 + 40 / 3, 100 - 40 / 3, 100.0])
    scores = res.scores.set_index(["period", "region_code"])
    assert scores.loc[("2022Q4", "330100"), "change_vs_base"] == 0
    assert scores.loc[("2023Q4", "330100"), "change_vs_base"] > 0
    assert scores.loc[("2023Q4", "330101"), "change_vs_base"] == pytest.approx(0, abs=1e-12)


def test_ranks_ties_share_the_lower_rank():
    r = rank_min(pd.Series([90.0, 80.0, 80.0 + 1e-13, 70.0, np.nan]))
    assert r.tolist()[:4] == [1, 2, 2, 4] and pd.isna(r.iloc[4])


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    pd.DataFrame(rows, columns=header).to_csv(path, index=False, encoding="utf-8-sig")
    return path


ROWS = [
    ["330100", "杭州市", "2022Q4", 1, "PM2.5浓度", 30, "µg/m3", "省生态环境厅", "2023-01-20"],
    ["330100", "杭州市", "2022Q4", 9, "", 25.5, "", "省能源局", "2023-02-01"],
]


def test_chinese_english_and_bilingual_headers_read_alike(tmp_path):
    zh = [
        "地区代码",
        "地区名称",
        "时期",
        "指标编号",
        "指标名称",
        "数值",
        "单位",
        "数据来源",
        "截至",
    ]
    en = [
        "region_code",
        "region_name",
        "period",
        "indicator_no",
        "indicator",
        "value",
        "unit",
        "source",
        "as_of",
    ]
    a = read_indicator_values(_write(tmp_path / "zh.csv", zh, ROWS), SYSTEM.table)
    b = read_indicator_values(_write(tmp_path / "en.csv", en, ROWS), SYSTEM.table)
    cols = ["region_code", "region_name", "period", "level3_no", "value", "source", "as_of"]
    assert a[cols].astype(str).equals(b[cols].astype(str))
    assert a["level3_no"].tolist() == [1, 9]
    # the template (CSV and Excel) has both languages in its headers and reads back
    for name in ("t.csv", "t.xlsx"):
        write_template(tmp_path / name, SYSTEM.table)
        read = pd.read_csv if name.endswith("csv") else pd.read_excel
        tpl = read(tmp_path / name, dtype=str).astype(object)
        assert "地区代码 region_code" in tpl.columns and len(tpl) == 24
        tpl.loc[0, ["地区代码 region_code", "时期 period", "数值 value"]] = ["330100", "2022Q4", 30]
        filled = tmp_path / f"filled_{name}"
        tpl.to_csv(filled.with_suffix(".csv"), index=False)
        got = read_indicator_values(filled.with_suffix(".csv"), SYSTEM.table)
        assert len(got) == 1 and got["level3_no"].item() == 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            ["330100", "x", "2022Q4", "", "PM2.5 density", 30, "", "", ""],
            r"line 2: unknown indicator name 'PM2.5 density'",
        ),
        (
            ["330100", "x", "2022Q4", 99, "", 30, "", "", ""],
            r"line 2: indicator number '99' is not one of 1–24",
        ),
        (
            ["330100", "x", "2022-12", 1, "", 30, "", "", ""],
            r"line 2: period '2022-12' is not of the form YYYYQn",
        ),
        (
            ["3301", "x", "2022Q4", 1, "", 30, "", "", ""],
            r"line 2: region code '3301' is not a 6-digit",
        ),
        (
            ["330100", "x", "2022Q4", 1, "", "thirty", "", "", ""],
            r"line 2: value 'thirty' is not a number",
        ),
        (
            ["330100", "x", "2022Q4", 5, "", 0.6, "吨/亿元", "", ""],
            r"line 2: indicator 5 is given in '吨/亿元'.*convert",
        ),
        (
            ["330100", "x", "2022Q4", 5, "", 6000, "", "", ""],
            r"line 2: indicator 5 .* outside its plausible range \[0, 20\].*亿元",
        ),
        (
            ["330100", "x", "2022Q4", 8, "", "decoupled", "", "", ""],
            r"line 2: decoupling state 'decoupled'",
        ),
    ],
)
def test_bad_input_names_the_row(tmp_path, row, message):
    en = [
        "region_code",
        "region_name",
        "period",
        "indicator_no",
        "indicator",
        "value",
        "unit",
        "source",
        "as_of",
    ]
    path = _write(tmp_path / "v.csv", en, [row])
    with pytest.raises(InputDataError, match=message):
        synergy_index(read_indicator_values(path, SYSTEM.table), SYSTEM)


def test_percentages_given_as_fractions_warn():
    values = _one_period(_spread([0.1, 0.2, 0.3, 0.4]))
    share = values["level3_no"] == 9
    values.loc[share, "value"] = [0.12, 0.2, 0.31, 0.4]
    with pytest.warns(UnitWarning, match=r"indicator 9 .* were fractions given"):
        synergy_index(values, SYSTEM)


def test_duplicate_region_period_indicator_names_both_rows(tmp_path):
    en = ["region_code", "period", "indicator_no", "value"]
    path = _write(
        tmp_path / "v.csv", en, [["330100", "2022Q4", 1, 30], ["330100", "2022q4", 1, 31]]
    )
    with pytest.raises(
        InputDataError, match=r"v.csv, line 3: .*appears again \(first at v.csv, line 2\)"
    ):
        synergy_index(read_indicator_values(path, SYSTEM.table), SYSTEM)


def test_fixed_bounds_needed_for_fixed_and_target():
    values = _one_period(_spread([0.1, 0.2, 0.3, 0.4]))
    with pytest.raises(ConfigError, match="bounds table"):
        synergy_index(values, SYSTEM, bounds="fixed")
    with pytest.raises(ConfigError, match="positive target"):
        synergy_index(
            values,
            SYSTEM,
            method="target",
            fixed_bounds=pd.DataFrame({"level3_no": [1], "target": [5.0]}),
        )
