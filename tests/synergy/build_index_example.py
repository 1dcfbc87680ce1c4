"""Build the 11-city × 24-indicator synergy-index example workbook (a test fixture).

The values are **illustrative** (seeded random numbers inside each indicator's plausible range,
then edited to hold the cases the test needs), not statistics of the named cities. Every score,
sub-score, total and rank in the sheet ``scores`` is a visible spreadsheet formula, so the
calculation can be followed in Excel or LibreOffice:

* a tie: 嘉兴市 and 湖州市 carry identical values (equal totals, shared rank);
* a missing value: 丽水市 lacks indicator 12 (its 交通运输结构优化, 结构调整措施协同度 and total stay
  empty);
* best = worst: the bounds of indicator 24 are 80 and 80 (≥ 80 scores 100, below scores 60);
* out-of-bounds values: 杭州市's PM2.5 (indicator 1) is better than its best bound and
  衢州市's forest cover (indicator 20) worse than its worst bound (clipped to 100 and 60).

Run ``python tests/synergy/build_index_example.py`` to rebuild; it writes the formulas with
openpyxl and has LibreOffice (``soffice``) recalculate and store their values, which the test
reads as the expected results (``openpyxl`` ``data_only=True``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gridcarbon.synergy.index import (
    DEFAULT_STATE_SCORES,  # noqa: E402
    load_indicator_system,  # noqa: E402
)

OUT = Path(__file__).with_name("data") / "index_example_11_cities.xlsx"
CITIES = [
    ("330100", "杭州市"),
    ("330200", "宁波市"),
    ("330300", "温州市"),
    ("330400", "嘉兴市"),
    ("330500", "湖州市"),
    ("330600", "绍兴市"),
    ("330700", "金华市"),
    ("330800", "衢州市"),
    ("330900", "舟山市"),
    ("331000", "台州市"),
    ("331100", "丽水市"),
]
PERIOD = "2022Q4"
# Illustrative value ranges (low, high) and fixed bounds (worst, best) per indicator.
RANGES = {
    1: ((18, 32), (35, 20)),
    2: ((-5, 15), (-5, 15)),
    3: ((60, 90), (100, 50)),
    4: ((-5, 10), (-5, 10)),
    5: ((0.3, 1.2), (1.5, 0.3)),
    6: ((0, 8), (0, 8)),
    7: ((0.4, 0.9), (0.3, 1.0)),
    9: ((10, 30), (10, 35)),
    10: ((20, 50), (15, 55)),
    11: ((10, 40), (5, 45)),
    12: ((3, 12), (2, 15)),
    13: ((0.1, 0.8), (1.0, 0.05)),
    14: ((40, 80), (30, 90)),
    15: ((10, 30), (5, 35)),
    16: ((0.2, 0.5), (0.6, 0.15)),
    17: ((90, 99), (85, 100)),
    18: ((80, 100), (70, 100)),
    19: ((20, 60), (10, 70)),
    20: ((40, 80), (30, 85)),
    21: ((50, 100), (40, 100)),
    22: ((2, 6), (1, 7)),
    23: ((2, 20), (0, 25)),
    24: ((70, 95), (80, 80)),
}
STATES = ["strong_decoupling", "weak_decoupling", "expansive_coupling", "强脱钩", "弱脱钩"]


def _values(numbers: list[int]) -> dict[str, dict[int, object]]:
    rng = np.random.default_rng(20221)
    out: dict[str, dict[int, object]] = {}
    for k, (code, _) in enumerate(CITIES):
        row: dict[int, object] = {}
        for n in numbers:
            if n == 8:
                row[n] = STATES[k % len(STATES)]
                continue
            lo, hi = RANGES[n][0]
            row[n] = round(float(rng.uniform(lo, hi)), 2)
        out[code] = row
    out["330500"] = dict(out["330400"])  # the tie
    out["331100"][12] = None  # the missing value
    out["330100"][1] = 15.0  # better than the best bound (20)
    out["330800"][20] = 25.0  # worse than the worst bound (30)
    out["330200"][24] = 80.0  # at best = worst
    out["330300"][24] = 79.9  # just below best = worst
    return out


def build(path: Path) -> None:
    system = load_indicator_system()
    table = system.table
    numbers = system.numbers
    values = _values(numbers)
    wb = Workbook()
    readme = wb.active
    readme.title = "README"
    for line in (
        ["Synergy index example — ILLUSTRATIVE VALUES, not statistics of these cities (示例数据)"],
        ["非官方测算 (unofficial calculation); efficacy coefficient, fixed bounds"],
        [
            "score = IF(best=worst, 100 if at least as good as best else 60, "
            "60 + 40·clip((x − worst)/(best − worst), 0, 1)); state indicator: 60 + 40·achievement"
        ],
        ["sub-scores: weighted sums with the weights of sheet indicators; empty if a child is"],
        ["rank: RANK (ties share the lower rank: 1, 2, 2, 4)"],
        [f"period: {PERIOD}"],
    ):
        readme.append(line)

    ind = wb.create_sheet("indicators")
    ind.append(
        [
            "level3_no",
            "level3",
            "direction",
            "level3_weight",
            "level2",
            "level2_weight",
            "level1",
            "level1_weight",
        ]
    )
    for r in table.itertuples():
        ind.append(
            [
                r.level3_no,
                r.level3,
                r.direction,
                r.level3_weight,
                r.level2,
                r.level2_weight,
                r.level1,
                r.level1_weight,
            ]
        )

    bounds = wb.create_sheet("bounds")
    bounds.append(["level3_no", "worst", "best"])
    for n in numbers:
        if n != 8:
            worst, best = RANGES[n][1]
            bounds.append([n, worst, best])
    bound_row = {n: i + 2 for i, n in enumerate(n for n in numbers if n != 8)}

    states = wb.create_sheet("states")
    states.append(["state", "achievement"])
    for name, t in DEFAULT_STATE_SCORES.items():
        states.append([name, t])
    from gridcarbon.synergy.index import STATE_ALIASES

    for zh, name in STATE_ALIASES.items():
        states.append([zh, DEFAULT_STATE_SCORES[name]])
    n_states = 1 + len(DEFAULT_STATE_SCORES) + len(STATE_ALIASES)

    vals = wb.create_sheet("values")
    vals.append(["region_code", "region_name", "period", *numbers])
    for code, name in CITIES:
        vals.append([code, name, PERIOD, *(values[code][n] for n in numbers)])

    sc = wb.create_sheet("scores")
    l2 = system.level2_names
    l1 = system.level1_names
    header = ["region_code", "region_name", *(f"s{n}" for n in numbers)]
    header += [f"L2:{x}" for x in l2] + [f"L1:{x}" for x in l1] + ["total", "rank"]
    sc.append(header)
    col_of = {h: get_column_letter(i + 1) for i, h in enumerate(header)}
    n_rows = len(CITIES)
    for i, (code, name) in enumerate(CITIES):
        r = i + 2
        row: list[object] = [code, name]
        for j, n in enumerate(numbers):
            x = f"values!{get_column_letter(4 + j)}{r}"
            if n == 8:
                row.append(f'=IF({x}="","",60+40*VLOOKUP({x},states!$A$2:$B${n_states},2,FALSE))')
                continue
            b = bound_row[n]
            worst, best = f"bounds!$B${b}", f"bounds!$C${b}"
            higher = table.loc[table["level3_no"] == n, "direction"].iloc[0] == "higher"
            good = f"{x}>={best}" if higher else f"{x}<={best}"
            row.append(
                f'=IF({x}="","",IF({best}={worst},IF({good},100,60),'
                f"60+40*MAX(0,MIN(1,({x}-{worst})/({best}-{worst})))))"
            )
        for name2 in l2:
            members = table[table["level2"] == name2]
            cells = [f"{col_of[f's{n}']}{r}" for n in members["level3_no"]]
            weighted = "+".join(
                f"{c}*{w!r}" for c, w in zip(cells, members["level3_weight"], strict=True)
            )
            row.append(f'=IF(COUNT({",".join(cells)})<{len(cells)},"",{weighted})')
        for name1 in l1:
            members = table[table["level1"] == name1].drop_duplicates("level2")
            cells = [f"{col_of[f'L2:{m}']}{r}" for m in members["level2"]]
            weighted = "+".join(
                f"{c}*{w!r}" for c, w in zip(cells, members["level2_weight"], strict=True)
            )
            row.append(f'=IF(COUNT({",".join(cells)})<{len(cells)},"",{weighted})')
        first = table.drop_duplicates("level1")
        cells = [f"{col_of[f'L1:{m}']}{r}" for m in first["level1"]]
        weighted = "+".join(
            f"{c}*{w!r}" for c, w in zip(cells, first["level1_weight"], strict=True)
        )
        row.append(f'=IF(COUNT({",".join(cells)})<{len(cells)},"",{weighted})')
        t = col_of["total"]
        row.append(f'=IF({t}{r}="","",RANK({t}{r},${t}$2:${t}${n_rows + 1}))')
        sc.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / path.name
        wb.save(raw)
        out_dir = Path(tmp) / "calc"
        subprocess.run(
            [
                "soffice",
                "--headless",
                "--calc",
                "--convert-to",
                "xlsx",
                "--outdir",
                str(out_dir),
                str(raw),
            ],
            check=True,
            capture_output=True,
        )
        shutil.copyfile(out_dir / path.name, path)


if __name__ == "__main__":
    build(OUT)
    print(f"wrote {OUT}")
