"""The architecture of DESIGN.md §2, checked: light modules stay light, no dynamic imports,
species are values, and the import contracts are the ones the design asks for."""

from __future__ import annotations

import ast
import configparser
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gridcarbon"

HEAVY = (
    "folium",
    "rasterio",
    "numba",
    "xarray",
    "pandas",
    "geopandas",
    "scipy",
    "pyproj",
    "shapely",
    "netCDF4",
    "zarr",
    "dask",
)
LIGHT = (
    "gridcarbon",
    "gridcarbon.errors",
    "gridcarbon.config",
    "gridcarbon.contracts",
    "gridcarbon.species",
    "gridcarbon.cli",
)


def _package_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("module", LIGHT)
def test_light_modules_load_no_heavy_library(module):
    code = (
        "import json, sys\n"
        f"import {module}\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [], f"importing {module} loads {out.stdout.strip()}"


def _dynamic_imports(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in ("__import__", "import_module"):
            lines.append(node.lineno)
        elif isinstance(node, ast.Attribute) and node.attr in ("import_module", "__import__"):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "importlib":
            if any(a.name == "import_module" for a in node.names):
                lines.append(node.lineno)
    return lines


def test_package_code_uses_no_dynamic_imports():
    found = {
        str(p.relative_to(ROOT)): lines
        for p in _package_files()
        if (lines := _dynamic_imports(ast.parse(p.read_text(encoding="utf-8"))))
    }
    assert found == {}


def test_dynamic_import_check_can_fail():
    assert _dynamic_imports(ast.parse("import importlib\nimportlib.import_module('x')"))
    assert _dynamic_imports(ast.parse("from importlib import import_module"))
    assert _dynamic_imports(ast.parse("m = __import__('os')"))
    assert not _dynamic_imports(ast.parse("from gridcarbon import config"))


# -- species are values -------------------------------------------------------------------------
SPECIES_NAMES = {"CO2", "NOx", "VOC", "NO2"}
#: Where species may be spelled out: the species module, the scenario (the Zhejiang default is
#: region data) and the configuration's defaults.
SPECIES_ALLOWED = ("gridcarbon/species.py", "gridcarbon/scenario/", "gridcarbon/config/")


def _documentation(tree: ast.AST) -> set[int]:
    """ids of the string constants that document (docstrings, click ``help=`` texts)."""
    docs: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = body[0] if body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
        if isinstance(node, ast.keyword) and node.arg == "help":
            docs.update(id(n) for n in ast.walk(node.value) if isinstance(n, ast.Constant))
    return docs


def _species_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants of code (not documentation) that spell a species name."""
    found = []
    docs = _documentation(tree)
    for node in ast.walk(tree):
        if id(node) in docs:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            words = set(node.value.replace("+", " ").replace(",", " ").replace("_", " ").split())
            hit = words & SPECIES_NAMES
            if hit:
                found.append((node.lineno, sorted(hit)[0]))
    return found


def test_no_species_name_is_spelled_out_in_package_code():
    found = {}
    for p in _package_files():
        rel = p.relative_to(ROOT).as_posix()
        if rel.startswith(SPECIES_ALLOWED):
            continue
        lines = _species_literals(ast.parse(p.read_text(encoding="utf-8")))
        if lines:
            found[rel] = lines
    assert found == {}


def test_species_check_can_fail():
    assert _species_literals(ast.parse('x = {"CO2": 1}'))
    assert _species_literals(ast.parse('label = "CO2+NOx+VOC"'))
    assert _species_literals(ast.parse('def f():\n    """Tallies."""\n    return "NOx"'))
    assert not _species_literals(ast.parse('"""Tallies of NOx per unit."""'))
    assert not _species_literals(ast.parse('click.option("--x", help="CO2 only")'))
    assert not _species_literals(ast.parse('x = "co2_ppm"'))


# -- the import contracts -------------------------------------------------------------------------
def _contracts() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter", encoding="utf-8")
    return parser


def test_import_contracts_are_the_designed_ones():
    c = _contracts()
    assert c["importlinter"]["root_package"] == "gridcarbon"
    assert c["importlinter"]["include_external_packages"] == "True"
    assert c["importlinter"]["exclude_type_checking_imports"] == "True"
    layers = c["importlinter:contract:layers"]
    assert layers["type"] == "layers" and layers["containers"].split() == ["gridcarbon"]
    assert layers["exhaustive"] == "true"
    rows = [r.strip() for r in layers["layers"].strip().splitlines()]
    assert rows[:5] == [
        "cli",
        "pipeline",
        "scenario | inversion | zoning | maps | synergy",
        "grids",
        "io",
    ]
    assert rows[5] == "kernels"
    kernels = c["importlinter:contract:kernels"]
    assert kernels["type"] == "forbidden"
    assert {"pandas", "xarray", "gridcarbon.io"} <= set(kernels["forbidden_modules"].split())
    for section in c.sections():
        for key in ("ignore_imports", "allow_indirect_imports", "exhaustive_ignores"):
            assert key not in c[section], f"{section} has {key}"


@pytest.mark.slow
def test_lint_imports_passes():
    out = subprocess.run(
        [sys.executable, "-m", "importlinter.cli", "lint-imports"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-4000:]
