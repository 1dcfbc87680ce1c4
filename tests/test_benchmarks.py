"""The benchmark scripts import only names the package has (they are not run by the suite;
a rename in the package must not leave them broken); ``bench_osse.py``'s summary never writes
nothing over a cache's summary."""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import json
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


def _benchmark(name: str):
    """The script ``benchmarks/<name>.py`` as a module (not run: its ``main`` is guarded)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _missing_names(source: str) -> list[str]:
    missing = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gridcarbon")):
            continue
        try:
            module = importlib.import_module(node.module)
        except ImportError:
            missing.append(node.module)
            continue
        for alias in node.names:
            if hasattr(module, alias.name):
                continue
            try:
                importlib.import_module(f"{node.module}.{alias.name}")
            except ImportError:
                missing.append(f"{node.module}.{alias.name}")
    return missing


def test_the_check_finds_a_missing_name():
    assert _missing_names("from gridcarbon.scenario.units import default_units") == [
        "gridcarbon.scenario.units"
    ]
    assert _missing_names("from gridcarbon.species import NOPE") == ["gridcarbon.species.NOPE"]


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_imports_exist(script):
    assert _missing_names(script.read_text(encoding="utf-8")) == []


def test_a_summary_matching_no_replicate_leaves_the_cache_summary_alone(tmp_path, capsys):
    """``bench_osse.py --summary-only`` with a ``--set`` list other than the cache's matches no
    replicate: it says so, names both configuration hashes and the fix, and leaves
    ``osse_intervals.json`` as it was instead of writing an empty summary over it."""
    bench = _benchmark("bench_osse")
    cache = tmp_path / "osse_replicates.jsonl"
    record = {"key": "k", "month": 1, "mode": "randomised", "seed": 40000, "config_hash": "0" * 12}
    cache.write_text(json.dumps(record) + "\n", encoding="utf-8")
    summary = tmp_path / "osse_intervals.json"
    summary.write_text('{"2023-01 randomised": {"replicates": 1}}', encoding="utf-8")
    args = argparse.Namespace(
        months=[1], modes=["randomised"], set=[], seed=40000, replicates=1, satellite="none"
    )
    bench.summarise_cache(args, cache, tmp_path)
    assert summary.read_text(encoding="utf-8") == '{"2023-01 randomised": {"replicates": 1}}'
    err = capsys.readouterr().err
    assert "000000000000" in err and "give the --set options" in err
    assert bench._config_hash(bench.run_config(1, [])) in err


def test_a_summary_of_some_seeds_never_replaces_the_summary_of_all():
    """``bench_osse.py --summary-only --replicates N`` with fewer seeds than the cache holds
    names its own file; ``osse_intervals.json`` is the summary of every seed of the
    configuration (other configurations, months and modes in the same cache do not count)."""
    bench = _benchmark("bench_osse")
    chash = bench._config_hash(bench.run_config(1, []))
    cached = {
        f"k{seed}": {"month": 1, "mode": "randomised", "seed": seed, "config_hash": chash}
        for seed in (40000, 40001, 40002)
    }
    cached["other"] = {"month": 1, "mode": "randomised", "seed": 40009, "config_hash": "0" * 12}
    cached["april"] = {"month": 4, "mode": "randomised", "seed": 40009, "config_hash": chash}

    def name(replicates, seed=40000):
        args = argparse.Namespace(
            months=[1], modes=["randomised"], set=[], seed=seed, replicates=replicates
        )
        return bench.summary_file_name(args, cached)

    assert name(3) == name(50) == "osse_intervals.json"
    assert name(2) == "osse_intervals.seeds-40000-40001.json"
    assert name(2, seed=40001) == "osse_intervals.seeds-40001-40002.json"


def test_the_speed_term_diagnostic_scores_the_restricted_likelihood():
    """``column_speed_term.restricted_scores`` is the restricted (plane-marginalised) Gaussian
    log-likelihood written out with dense inverses, and a plane added to the residual changes
    nothing."""
    bench = _benchmark("column_speed_term")
    import numpy as np

    rng = np.random.default_rng(3)
    n = 12
    A = rng.normal(size=(n, n))
    C = A @ A.T + n * np.eye(n)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    e = rng.normal(size=n)
    Ci = np.linalg.inv(C)
    G = X.T @ Ci @ X
    P = Ci - Ci @ X @ np.linalg.solve(G, X.T @ Ci)
    want = -0.5 * (
        e @ P @ e + np.linalg.slogdet(C)[1] + np.linalg.slogdet(G)[1] + (n - 3) * np.log(2 * np.pi)
    )
    ll, quad, dof = bench.restricted_scores(e, C, X)
    assert dof == n - 3
    assert quad == pytest.approx(e @ P @ e, rel=1e-10)
    assert ll == pytest.approx(want, rel=1e-10)
    moved = bench.restricted_scores(e + X @ np.array([5.0, -2.0, 0.5]), C, X)
    assert moved[0] == pytest.approx(ll, rel=1e-9)


def test_the_speed_scales_diagnostic_splits_the_scales_exactly():
    """``column_speed_scales.split_scales``: the scales of the parts of a residual add up to
    the scales of the whole (``transport_scales`` is linear in the residual), overpass by
    overpass."""
    bench = _benchmark("column_speed_scales")
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(8)
    n = 20
    so = pd.DataFrame(
        {
            "overpass": np.repeat(["a", "b"], n // 2),
            "x": rng.uniform(0, 9e4, n),
            "y": rng.uniform(0, 9e4, n),
            "prior_urban": rng.uniform(0, 1, n),
            "prior_rural": rng.uniform(0, 1, n),
        }
    )
    M = so[["prior_urban", "prior_rural"]].to_numpy().T
    covariance = {}
    for label in ("a", "b"):
        idx = np.flatnonzero(so["overpass"] == label)
        covariance[label] = 0.01 * np.eye(idx.size) + 0.09 * M[:, idx].T @ M[:, idx]
    parts = {name: rng.normal(0, 0.3, n) for name in bench.PARTS}
    split = bench.split_scales(so, parts, covariance, 0.3)
    whole = bench.split_scales(so, {"all": sum(parts.values())}, covariance, 0.3)["all"]
    assert whole.shape == (2, 2) and np.abs(whole).max() > 0
    np.testing.assert_allclose(sum(split.values()), whole, rtol=1e-10, atol=1e-14)


def test_the_targets_side_by_side_keep_each_runs_verdict(tmp_path):
    """``osse_targets_side_by_side``: one row per target, set and city, each run's estimate,
    interval and verdict as its summary wrote them; the worst band per species with its name;
    an empty cell where a run did not judge a target; a missing summary named."""
    bench = _benchmark("osse_targets_side_by_side")

    def row(target, for_, score, est, passes, obs="joint_no2"):
        return {
            "target": target,
            "for": for_,
            "score": score,
            "estimate": est,
            "low": est - 0.1,
            "high": est + 0.1,
            "passes": passes,
            "observations": obs,
        }

    band = "joint RMSE ≤ 1.02 × surface only"
    city = row("city CO2 RMS error ≤ 0.9 × surface only", "330200", "city_rms", 0.74, True)
    first = [
        city,
        row(band, "NOx 0-5km", "band_rmse", 1.5, False),
        row(band, "NOx 5-10km", "band_rmse", 1.9, False),
    ]
    second = [{**city, "estimate": 1.2, "low": 1.0, "high": 1.4, "passes": False}]
    for name, rows in (("a", first), ("b", second)):
        (tmp_path / name).mkdir()
        summary = {"2023-01 randomised": {"replicates": 3, "satellite": {"targets": rows}}}
        (tmp_path / name / "osse_intervals.json").write_text(json.dumps(summary))
    runs = {
        label: (n, bench.worst_bands(rows))
        for label in ("a", "b")
        for n, rows in [bench.load_verdicts(tmp_path / label, 1, "randomised")]
    }
    lines = bench.table(runs)
    assert lines[0].endswith("| a (3 replicates) | b (3 replicates) |")
    ningbo = next(line for line in lines if "Ningbo" in line)
    assert "0.74 [0.64, 0.84] pass" in ningbo and "1.20 [1.00, 1.40] **fail**" in ningbo
    worst = [line for line in lines if "worst of the bands" in line]
    assert len(worst) == 1 and "1.90 [1.80, 2.00] (5-10km) **fail** |  |" in worst[0]
    with pytest.raises(SystemExit, match="no summary of 2023-04 randomised"):
        bench.load_verdicts(tmp_path / "a", 4, "randomised")
    with pytest.raises(SystemExit, match="no such summary"):
        bench.load_verdicts(tmp_path / "missing", 1, "randomised")
