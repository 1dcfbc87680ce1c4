"""The benchmark scripts import only names the package has (they are not run by the suite;
a rename in the package must not leave them broken)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


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
