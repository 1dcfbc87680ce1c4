"""The numeric core stays a low layer: gridcarbon.kernels imports only numpy, numba, scipy and the
standard library (plus gridcarbon.errors), numba is used nowhere else, and every kernel caches its
compiled code."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import numba
import pytest
from numba.core.caching import NullCache
from numba.core.dispatcher import Dispatcher

import gridcarbon

PACKAGE_DIR = Path(gridcarbon.__file__).parent
KERNELS_DIR = PACKAGE_DIR / "kernels"

ALLOWED_THIRD_PARTY = {"numpy", "numba", "scipy"}
ALLOWED_GRIDCARBON = ("gridcarbon.kernels", "gridcarbon.errors")
# standard-library modules that read or write files, sockets or processes: not in the core
STDLIB_IO = {
    "io",
    "os",
    "pathlib",
    "shutil",
    "tempfile",
    "glob",
    "fileinput",
    "pickle",
    "shelve",
    "sqlite3",
    "csv",
    "json",
    "zipfile",
    "tarfile",
    "gzip",
    "bz2",
    "lzma",
    "socket",
    "urllib",
    "http",
    "subprocess",
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imported_modules(source: str, module: str, is_package: bool = False) -> list[str]:
    """Every module imported anywhere in ``source`` (module-level or inside functions), as
    absolute dotted names; ``from a import b`` yields ``a.b`` (b may be a submodule)."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            if mod == "__future__":
                continue
            found.extend(f"{mod}.{alias.name}" for alias in node.names)
    return found


def _dynamic_imports_and_open(source: str) -> list[str]:
    """Calls that import by name or open files: ``__import__``, ``importlib.import_module``,
    ``open``."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            f = node.func
            name = (
                f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            )
            if name in ("__import__", "import_module", "open"):
                bad.append(f"{name}()")
    return bad


def forbidden_kernel_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """Imports (and dynamic imports or file opens) that a kernels module must not have."""
    bad = []
    for name in _imported_modules(source, module, is_package):
        top = name.split(".")[0]
        if top == "gridcarbon":
            if not any(name == a or name.startswith(a + ".") for a in ALLOWED_GRIDCARBON):
                bad.append(name)
        elif top in ALLOWED_THIRD_PARTY:
            continue
        elif top not in sys.stdlib_module_names or top in STDLIB_IO:
            bad.append(name)
    return bad + _dynamic_imports_and_open(source)


def numba_imports(source: str) -> list[str]:
    """numba imports anywhere in ``source``, and decorators or calls named ``njit``/``jit``."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            bad.extend(a.name for a in node.names if a.name.split(".")[0] == "numba")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "numba":
            bad.append(node.module)
        elif isinstance(node, ast.Call | ast.Attribute | ast.Name):
            target = node.func if isinstance(node, ast.Call) else node
            name = getattr(target, "attr", None) or getattr(target, "id", None)
            if name in ("njit", "jit"):
                bad.append(name)
    return bad


def _kernel_files() -> list[Path]:
    return sorted(KERNELS_DIR.glob("*.py"))


def test_kernel_modules_exist():
    names = {p.stem for p in _kernel_files()}
    expected = {
        "__init__",
        "emissions",
        "dispersion",
        "plume",
        "jacobian",
        "covariance",
        "gistar",
        "tally",
        "trend",
        "colocation",
        "threads",
    }
    assert expected <= names, expected - names


@pytest.mark.parametrize("path", _kernel_files(), ids=lambda p: p.name)
def test_kernels_import_only_numpy_numba_scipy_stdlib(path):
    source = path.read_text(encoding="utf-8")
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    if not is_package:
        assert _imported_modules(source, module), f"{path}: no imports found, the scan is broken"
    assert forbidden_kernel_imports(source, module, is_package) == [], path


@pytest.mark.parametrize(
    "snippet",
    [
        "import pandas as pd",
        "import xarray",
        "import geopandas",
        "from shapely.geometry import Polygon",
        "import pyproj",
        "from pydantic import BaseModel",
        "import yaml",
        "from gridcarbon.io import write_netcdf",
        "from gridcarbon import io",
        "import gridcarbon.io.grids",
        "from gridcarbon.grids.gridspec import GridSpec",
        "from .. import config",
        "from ..zoning import tally",
        "import gridcarbon",
        "import os",
        "from pathlib import Path",
        "def f():\n    import pandas\n    return pandas",
        "import importlib\nm = importlib.import_module('pandas')",
        "def f(p):\n    return open(p).read()",
    ],
)
def test_layer_check_refuses_a_forbidden_import(snippet):
    assert forbidden_kernel_imports(snippet, "gridcarbon.kernels.example") != [], snippet


def test_layer_check_accepts_the_allowed_imports():
    snippet = (
        "from __future__ import annotations\n"
        "import math\n"
        "import numba as nb\n"
        "from numba import prange\n"
        "import numpy as np\n"
        "from scipy.special import erfc\n"
        "from gridcarbon.errors import InputDataError\n"
        "from gridcarbon import errors\n"
        "from gridcarbon.kernels.dispersion import sigmas\n"
        "from . import dispersion\n"
        "from .dispersion import briggs_rise\n"
    )
    assert forbidden_kernel_imports(snippet, "gridcarbon.kernels.example") == []


def test_no_numba_outside_kernels():
    outside = [p for p in sorted(PACKAGE_DIR.rglob("*.py")) if KERNELS_DIR not in p.parents]
    assert len(outside) > 20, "the package scan found too few modules"
    offenders = {
        str(p.relative_to(PACKAGE_DIR)): bad
        for p in outside
        if (bad := numba_imports(p.read_text(encoding="utf-8")))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "snippet",
    [
        "import numba",
        "import numba as nb",
        "from numba import njit, prange",
        "import numba.core.types",
        "def f():\n    import numba\n    return numba",
        "@njit(cache=True)\ndef f(x):\n    return x",
        "f = nb.njit(lambda x: x)",
    ],
)
def test_numba_check_finds_numba(snippet):
    assert numba_imports(snippet) != [], snippet


def test_numba_check_passes_plain_code():
    assert numba_imports("import numpy as np\n\ndef f(x):\n    return np.sum(x)\n") == []


def _dispatchers() -> dict[str, Dispatcher]:
    """Every numba dispatcher defined in a gridcarbon.kernels module, by qualified name."""
    found = {}
    for path in _kernel_files():
        module = importlib.import_module(_module_name(path))
        for name, obj in vars(module).items():
            if isinstance(obj, Dispatcher) and obj.py_func.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = obj
    return found


def uncached(dispatchers: dict[str, Dispatcher]) -> list[str]:
    """Dispatchers compiled without ``cache=True``."""
    return sorted(name for name, d in dispatchers.items() if isinstance(d._cache, NullCache))


def _decorated_functions() -> dict[str, list[ast.keyword]]:
    """Functions in gridcarbon/kernels decorated with ``njit``/``jit`` and their keywords."""
    out = {}
    for path in _kernel_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                for dec in node.decorator_list:
                    call = dec if isinstance(dec, ast.Call) else None
                    target = call.func if call else dec
                    name = getattr(target, "attr", None) or getattr(target, "id", None)
                    if name in ("njit", "jit"):
                        out[f"{_module_name(path)}.{node.name}"] = call.keywords if call else []
    return out


def test_every_kernel_caches_its_compiled_code():
    dispatchers = _dispatchers()
    decorated = _decorated_functions()
    # every jitted function of the package is found both ways, and there are many of them
    assert set(dispatchers) == set(decorated)
    assert len(dispatchers) >= 30, sorted(dispatchers)
    assert "gridcarbon.kernels.plume.area_footprint_fill" in dispatchers
    assert uncached(dispatchers) == []
    for name, keywords in decorated.items():
        cache = [k for k in keywords if k.arg == "cache"]
        assert (
            cache and isinstance(cache[0].value, ast.Constant) and cache[0].value.value is True
        ), name


def test_cache_check_finds_an_uncached_kernel():
    def identity(x):
        return x

    assert uncached({"identity": numba.njit(identity)}) == ["identity"]
    assert uncached({"identity": numba.njit(cache=True)(identity)}) == []
