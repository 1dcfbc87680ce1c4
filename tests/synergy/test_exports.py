"""The package's lazy exports: light to import, every name resolves to what it names."""

from __future__ import annotations

import subprocess
import sys


def test_exports_are_lazy_and_resolve():
    code = (
        "import inspect, sys\n"
        "import gridcarbon.synergy as s\n"
        "print(sorted(m for m in ('numba', 'xarray', 'geopandas', 'scipy') if m in sys.modules))\n"
        "print([n for n in s.__all__ if inspect.ismodule(getattr(s, n))])\n"
        "from gridcarbon.synergy.crosscheck import crosscheck\n"
        "print(s.crosscheck is crosscheck)\n"
        "print(set(s.__all__) <= set(dir(s)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:4] == ["[]", "[]", "True", "True"]
