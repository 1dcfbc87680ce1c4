"""The package's lazy exports: light to import, every public name a value (not a submodule)."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

import gridcarbon.zoning as zoning

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_package_is_light():
    code = (
        "import json, sys; import gridcarbon.zoning; "
        "print(json.dumps([m for m in ('geopandas', 'xarray', 'pandas', 'numba', 'scipy', "
        "'shapely', 'pyproj') if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert json.loads(done.stdout) == []


def test_every_public_name_resolves_to_a_value():
    import gridcarbon.zoning.normalise  # noqa: F401 - a submodule of the same stem as a name

    for name in zoning.__all__:
        value = getattr(zoning, name)
        assert not isinstance(value, types.ModuleType), name
    assert zoning.control_units is gridcarbon.zoning.normalise.control_units
    assert set(zoning.__all__) <= set(dir(zoning))
    with pytest.raises(AttributeError, match="no_such_name"):
        zoning.no_such_name  # noqa: B018
