"""benchmarks/osse_paired.py: two OSSE caches compared seed for seed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "osse_paired.py"
_spec = importlib.util.spec_from_file_location("osse_paired", _PATH)
osse_paired = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(osse_paired)


def test_paired_difference_and_interval():
    off = np.array([1.0, 2.0, 3.0, np.nan, 5.0])
    on = off + np.array([0.5, 0.5, 0.5, 0.5, 0.5])
    rec = osse_paired.paired(off, on)
    assert rec["n"] == 4  # the pair with a NaN dropped
    assert rec["off"] == pytest.approx(2.75) and rec["on"] == pytest.approx(3.25)
    # a constant shift: the estimate and both ends of the interval are the shift
    assert rec["diff"] == pytest.approx(0.5)
    assert rec["low"] == pytest.approx(0.5) and rec["high"] == pytest.approx(0.5)
    noisy = osse_paired.paired(np.zeros(8), np.array([-1.0, 1, -1, 1, -1, 1, -1, 1.5]))
    assert noisy["low"] < 0 < noisy["high"]


def test_paired_rms_pools_the_columns():
    off = np.array([[3.0, 4.0], [3.0, 4.0]])
    on = np.array([[1.0, 1.0], [1.0, 1.0]])
    rec = osse_paired.paired_rms(off, on)
    assert rec["off"] == pytest.approx(np.sqrt(12.5))
    assert rec["on"] == pytest.approx(1.0)
    assert rec["diff"] == pytest.approx(1.0 - np.sqrt(12.5))


def _cache(path: Path, config_hash: str, rows_of_seed) -> None:
    lines = []
    for seed in (1, 2, 3, 4):
        rows = [{"label": "default", "species": "CO2", **rows_of_seed(seed)}]
        rows.append({"label": "no_cross_species", "species": "CO2", "city_A_post_err": 9.0})
        rec = {"month": 1, "mode": "randomised", "seed": seed, "config_hash": config_hash}
        lines.append(json.dumps({**rec, "rows": rows}))
    path.write_text("\n".join(lines) + "\n")


def test_compare_two_caches(tmp_path):
    def off_row(seed):
        return {
            "truth_mixing_height_bias": 0.1 * seed,
            "city_A_post_err": -0.1 * seed,
            "city_A_post_z": -2.0,
            "cov1_cells_ur20_hits": 5.0,
            "n_cells_ur20": 10.0,
            "own_rmse_reduction_near": 0.1,
        }

    def on_row(seed):
        row = off_row(seed)
        row.update(city_A_post_err=-0.05 * seed, city_A_post_z=-1.0)
        row.update(mixing_height_post_mean=0.08 * seed, own_rmse_reduction_near=0.08)
        row.update(mixing_height_post_std_mean=0.05)
        return row

    _cache(tmp_path / "off.jsonl", "h0", off_row)
    _cache(tmp_path / "on.jsonl", "h1", on_row)
    off = osse_paired.load_rows(tmp_path / "off.jsonl", 1, "randomised")
    on = osse_paired.load_rows(tmp_path / "on.jsonl", 1, "randomised")
    assert off[2]["CO2"]["city_A_post_err"] == pytest.approx(-0.2)  # the default label only
    res = osse_paired.compare(off, on, [1, 2, 3, 4], cities=("A",))
    assert res["city A RMS(error/σ)"]["off"] == pytest.approx(2.0)
    assert res["city A RMS(error/σ)"]["diff"] == pytest.approx(-1.0)
    assert res["cities mean (error/σ)²"]["diff"] == pytest.approx(-3.0)
    assert res["CO2 RMSE gain within 30 km"]["diff"] == pytest.approx(-0.02)
    assert res["CO2 1σ coverage, constrained cells"]["pooled_on"] == pytest.approx(0.5)
    corr = res["corr: posterior mean δ vs drawn mixing-height bias"]
    assert corr["on"] == pytest.approx(1.0)
    assert corr["mean_delta"] == pytest.approx(0.2)
    assert res["corr: city A error vs drawn mixing-height bias"]["off"] == pytest.approx(-1.0)
    # two configurations in one cache must be told apart
    both = tmp_path / "both.jsonl"
    both.write_text((tmp_path / "off.jsonl").read_text() + (tmp_path / "on.jsonl").read_text())
    with pytest.raises(SystemExit, match="configuration hashes"):
        osse_paired.load_rows(both, 1, "randomised")
    assert osse_paired.load_rows(both, 1, "randomised", "h1")[1]["CO2"]["city_A_post_z"] == -1.0
