"""benchmarks/osse_city_errors.py: what the city totals' errors of an OSSE depend on."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "osse_city_errors.py"
_spec = importlib.util.spec_from_file_location("osse_city_errors", _PATH)
osse_city_errors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(osse_city_errors)

TRUE = {"intercept": 0.06, "prior_err": 0.3, "mh_bias": -0.17, "dir": -0.05, "speed": 0.0}


def _rows(n: int = 60, noise: float = 0.0, seed: int = 1) -> dict[int, dict[str, dict]]:
    """Replicate rows whose Ningbo error is a known linear function of the draws."""
    rng = np.random.default_rng(seed)
    rows = {}
    for s in range(40000, 40000 + n):
        prior = rng.normal(0, 0.1)
        mh, d, v = rng.uniform(-0.3, 0.3), rng.uniform(15, 35), rng.uniform(0.1, 0.35)
        err = (
            TRUE["intercept"]
            + TRUE["prior_err"] * prior
            + TRUE["mh_bias"] * mh
            + TRUE["dir"] * (d - 25) / 10
            + TRUE["speed"] * (v - 0.225) / 0.1
            + noise * rng.standard_normal()
        )
        rows[s] = {
            "CO2": {
                "city_330200_post_err": err,
                "city_330200_prior_err": prior,
                "city_330200_post_std_rel": 0.05,
                "truth_mixing_height_bias": mh,
                "truth_wind_direction_error_deg": d,
                "truth_wind_speed_error": v,
            }
        }
    return rows


def test_the_regression_recovers_a_known_dependence():
    r = osse_city_errors.city_regression(_rows(), "CO2", "330200")
    np.testing.assert_allclose(r["coef"], list(TRUE.values()), atol=1e-12)
    assert r["r2"] == pytest.approx(1.0)
    noisy = osse_city_errors.city_regression(_rows(noise=0.005), "CO2", "330200")
    # with noise: the estimates close to the truth, each inside an interval of some width, and
    # the intercept's interval clear of 0
    np.testing.assert_allclose(noisy["coef"], list(TRUE.values()), atol=0.015)
    assert np.all(noisy["low"] < noisy["coef"]) and np.all(noisy["coef"] < noisy["high"])
    assert noisy["low"][0] > 0 and noisy["r2"] < 1


def test_the_script_prints_each_city(tmp_path):
    lines = [
        {
            "month": 1,
            "mode": "randomised",
            "seed": s,
            "config_hash": "h",
            "rows": [{"label": "default", "species": "CO2", **row["CO2"]}],
        }
        for s, row in _rows(20, noise=0.01).items()
    ]
    (tmp_path / "osse_replicates.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    out = subprocess.run(
        [sys.executable, str(_PATH), str(tmp_path), "--month", "1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "city 330200" in out and "intercept | +0.06" in out and "n = 20" in out
