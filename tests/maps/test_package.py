"""The maps package itself: light to import, and no species name spelled out in its code."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import gridcarbon.maps

PACKAGE = Path(gridcarbon.maps.__file__).parent
SPECIES_NAMES = re.compile(r"CO2|NOx|VOC|NO2")


def spelled_species(source: str, filename: str) -> list[str]:
    """String constants (docstrings included) of ``source`` that spell a species name."""
    return [
        f"{filename}:{node.lineno}: {node.value[:60]!r}"
        for node in ast.walk(ast.parse(source, filename=filename))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and SPECIES_NAMES.search(node.value)
    ]


def test_no_species_name_in_the_maps_package():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    found = [f for p in files for f in spelled_species(p.read_text(encoding="utf-8"), p.name)]
    assert found == [], "\n".join(found)


def test_the_scan_finds_a_spelled_name():
    assert spelled_species('KEEP = ("CO2", "NOx")', "x.py") == ["x.py:1: 'CO2'", "x.py:1: 'NOx'"]
    assert spelled_species('def f():\n    """Draw VOCs."""', "x.py")
    assert spelled_species("label = f'{name} hot'", "x.py") == []


def test_importing_the_package_loads_no_folium():
    code = (
        "import sys, gridcarbon.maps as m\n"
        "heavy = [x for x in ('folium', 'xarray', 'pandas', 'geopandas') if x in sys.modules]\n"
        "assert heavy == [], heavy\n"
        "assert {'make_map', 'map_documents', 'write_map', 'run_map_stage'} <= set(dir(m))\n"
        "m.MapConfig\n"
        "assert 'folium' not in sys.modules\n"
        "m.make_map\n"
        "assert 'folium' in sys.modules\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_unknown_names_raise_attribute_error():
    try:
        gridcarbon.maps.no_such_verb  # noqa: B018
    except AttributeError as exc:
        assert "no_such_verb" in str(exc)
    else:
        raise AssertionError("no AttributeError")
