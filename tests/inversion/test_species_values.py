"""Species as values: the inversion package spells no species name, and a species no station
measures passes through the inversion (its posterior is its prior, with σ from B)."""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gridcarbon.inversion

ROOT = Path(__file__).resolve().parents[2]
SPECIES_NAMES = re.compile(r"\b(CO2|NOx|VOC|NO2)\b")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                found.add(id(first.value))
    return found


def test_no_species_name_in_the_package_code():
    """Species names live in gridcarbon.species, the scenario and the configuration defaults;
    the inversion's code (string constants other than docstrings, and names) has none."""
    package = Path(gridcarbon.inversion.__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            text = None
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = None if id(node) in docs else node.value
            elif isinstance(node, ast.Name):
                text = node.id
            elif isinstance(node, ast.Attribute):
                text = node.attr
            if text is not None and SPECIES_NAMES.search(text):
                found.append(f"{path.name}:{node.lineno}: {text[:60]!r}")
    assert found == []
    # the scan sees what it looks for
    probe = ast.parse('x = f"{a} ppm"\ny = "VOC given"\n"""doc"""\n')
    texts = [n.value for n in ast.walk(probe) if isinstance(n, ast.Constant)]
    assert any(SPECIES_NAMES.search(t) for t in texts if isinstance(t, str))


_FOURTH_SPECIES = """
import json, logging
import numpy as np
from gridcarbon.config.inversion import InversionConfig
from gridcarbon.inversion import run_inversion
from gridcarbon.species import Species
from tests.inversion.cases import small_case

from tests.seams import SO2 as so2
case = small_case(
    lon=(119.95, 120.45), lat=(30.05, 30.45), days=2, seed=11, species=("CO2", "NOx"),
    n_points=3, extra_species=(so2,),
)
records = []
handler = logging.Handler()
handler.emit = lambda record: records.append(record.getMessage())
logging.getLogger("gridcarbon").addHandler(handler)
logging.getLogger("gridcarbon").setLevel(logging.INFO)
res = run_inversion(case.prior, case.scenario, InversionConfig())
post, prior = res.posterior, case.prior
sigma = InversionConfig().state.prior_error
print(json.dumps({
    "species": res.details.layout.species,
    "so2_posterior_rel_diff": float(np.max(np.abs(post["SO2"].values - prior["SO2"].values))
                                    / np.max(prior["SO2"].values)),
    "so2_std_rel_diff": float(np.max(np.abs(post["SO2_std"].values - sigma * prior["SO2"].values))
                              / np.max(sigma * prior["SO2"].values)),
    "co2_changed": float(np.max(np.abs(post["CO2"].values - prior["CO2"].values))
                         / np.max(prior["CO2"].values)),
    "so2_attrs_kept": post["SO2"].attrs["long_name"] == prior["SO2"].attrs["long_name"],
    "so2_stations": int((res.station_series["species"] == "SO2").sum()),
    "log": [m for m in records if "SO2" in m],
}))
"""


def run_script(script: str) -> dict:
    """Run ``script`` in a fresh interpreter (nothing it defines leaks into other tests) and
    return the JSON it prints last."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_species_no_station_measures_passes_through():
    out = run_script(_FOURTH_SPECIES)
    assert out["species"] == ["CO2", "NOx", "SO2"]
    assert out["so2_posterior_rel_diff"] < 1e-6  # its posterior is its prior ...
    assert out["so2_std_rel_diff"] < 1e-6  # ... with the σ of B
    assert out["co2_changed"] > 1e-3  # while the observed species moved
    assert out["so2_attrs_kept"] is True and out["so2_stations"] == 0
    assert out["log"] == [
        "no station measures SO2 (SO2): its posterior is its prior, with σ from B"
    ]


def test_a_measured_species_without_its_settings_is_refused():
    """A station measuring a species' quantity that has no assimilation hours (or background
    prior, or model-error floor) is refused naming the setting, not silently skipped."""
    from dataclasses import replace

    from gridcarbon.config.inversion import InversionConfig
    from gridcarbon.errors import ConfigError
    from gridcarbon.inversion import ObservationSystem
    from gridcarbon.species import Species

    from .cases import small_case

    so2 = Species(
        "SO2", "sulphur dioxide", "SO2", 64.066, "SO2", "ppb", 64.066, "SO₂", "SO₂", "#e7298a"
    )
    case = small_case(
        lon=(119.95, 120.45),
        lat=(30.05, 30.45),
        days=1,
        seed=11,
        species=("CO2",),
        n_points=0,
        extra_species=(so2,),
    )
    stations = case.stations.assign(species=case.stations["species"] + ",SO2")
    scenario = replace(case.scenario, stations=stations)
    with pytest.raises(ConfigError) as err:
        ObservationSystem(case.prior, scenario, InversionConfig())
    assert str(err.value) == (
        "stations measure SO2 (species SO2), but inversion.errors.assimilation_hours_local has "
        "no entry for it; add one"
    )
