"""A long period's emission grids in one Zarr store, filled month by month, and the state of a
resumable run folder.

The store is created whole first (every variable, the full time axis, one chunking for the data
and the time bounds: :data:`TIME_CHUNK` hours, so that no chunk straddles a month of a period
that starts at a Beijing midnight), then each month is written into its own region with
``to_zarr(region=...)``.  A month is done only when its **completion marker** exists: a small
JSON file in the run's ``_markers/`` folder written after the month's data, naming the month, its
hours and the run's fingerprint (configuration, version, inputs).  Zarr does not store chunks
that hold only the fill value, so a missing chunk reads as fill; the marker, not the data, is the
proof.  The metadata are consolidated once, when every month is there.

A resumable run folder (``OUT.partial/``) holds :data:`RUN_STATE`: the fingerprint the run was
started with.  ``--resume`` continues it only if the fingerprint is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from gridcarbon._version import __version__
from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.io.cf import cf_dataset, cf_encoding, merge_encoding
from gridcarbon.io.provenance import file_sha256
from gridcarbon.io.runfolder import atomic_path, atomic_write, deferred_signals

__all__ = [
    "CODECS",
    "DEFAULT_CODEC",
    "MARKERS",
    "RUN_STATE",
    "TIME_CHUNK",
    "RunFingerprint",
    "TimeChunks",
    "check_resumable",
    "consolidate_store",
    "create_store",
    "done_months",
    "read_run_state",
    "read_time_block",
    "put_store_attrs",
    "run_fingerprint",
    "store_attrs",
    "time_chunks",
    "write_marker",
    "write_month",
    "write_run_state",
]

#: Hours per time chunk of every time-dependent array, data and bounds alike.
TIME_CHUNK = 24
#: The folder of completion markers inside a run folder.
MARKERS = "_markers"
#: The file of a run folder naming the fingerprint the run was started with.
RUN_STATE = ".gridcarbon-run.json"


def _codec(name: str):
    import numcodecs

    if name == "lz4":
        return numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
    if name == "zstd":
        return numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE)
    if name == "lz4-noshuffle":  # decodes about three times faster than "lz4" (docs/scale.md)
        return numcodecs.Blosc(cname="lz4", clevel=9, shuffle=numcodecs.Blosc.NOSHUFFLE)
    raise ConfigError(f"unknown Zarr codec {name!r}; use one of {sorted(CODECS)}")


#: The codecs a store can be written with (docs/scale.md compares them).
CODECS = ("lz4", "zstd", "lz4-noshuffle")
#: The codec of a streamed run's stores: Blosc-LZ4 without shuffle decodes a year of the default
#: prior in a third of the time of LZ4 with byte shuffle, for 49 % of the raw size instead of 43 %
#: (benchmarks/README.md, "Zone tallies of a year from the store").
DEFAULT_CODEC = "lz4-noshuffle"


# -- fingerprint ---------------------------------------------------------------------------------
RunFingerprint = dict[str, Any]


def run_fingerprint(config_text: str, input_files: Iterable[str | Path]) -> RunFingerprint:
    """What a resumed run must share with the run it continues: the configuration (SHA-256 of its
    YAML), gridcarbon's version and the SHA-256 of every input file (by path)."""
    files = sorted({str(Path(p).resolve()) for p in input_files if p is not None})
    return {
        "config_sha256": hashlib.sha256(config_text.encode("utf-8")).hexdigest(),
        "gridcarbon_version": __version__,
        "inputs_sha256": {p: file_sha256(p) for p in files if Path(p).is_file()},
    }


def write_run_state(folder: Path, fingerprint: RunFingerprint, config_text: str) -> Path:
    """Write the run's fingerprint (and its configuration, for the reader) into ``folder``."""
    doc = {"fingerprint": fingerprint, "config": config_text}
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    return atomic_write(
        folder / RUN_STATE, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=True
    )


def read_run_state(folder: Path) -> RunFingerprint | None:
    """The fingerprint a run folder was started with; None when it has none."""
    path = folder / RUN_STATE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputDataError(
            f"{str(path)!r} is not a run state gridcarbon wrote ({exc}); remove the folder "
            f"{str(folder)!r} yourself and start the run again"
        ) from None


def check_resumable(folder: Path, fingerprint: RunFingerprint) -> None:
    """Refuse (:class:`~gridcarbon.errors.ConfigError`) to continue the run in ``folder`` when
    its configuration, the version or an input file changed since it was started."""
    old = read_run_state(folder)
    if old is None:
        raise ConfigError(
            f"{str(folder)!r} holds no run state ({RUN_STATE}); it was not started by a "
            "resumable gridcarbon run — choose another output folder"
        )
    changed = []
    if old.get("config_sha256") != fingerprint["config_sha256"]:
        changed.append("the configuration")
    if old.get("gridcarbon_version") != fingerprint["gridcarbon_version"]:
        changed.append(
            f"the gridcarbon version ({old.get('gridcarbon_version')} → "
            f"{fingerprint['gridcarbon_version']})"
        )
    before, now = old.get("inputs_sha256", {}), fingerprint["inputs_sha256"]
    files = sorted(p for p in set(before) | set(now) if before.get(p) != now.get(p))
    if files:
        changed.append("the input file(s) " + ", ".join(repr(p) for p in files[:5]))
    if changed:
        raise ConfigError(
            f"cannot resume the run in {str(folder)!r}: " + " and ".join(changed) + " changed "
            "since it was started; run again with the original ones, or remove that folder "
            "yourself and start afresh"
        )


# -- markers -------------------------------------------------------------------------------------
def _fingerprint_digest(fingerprint: RunFingerprint) -> str:
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()


def write_marker(
    folder: Path, month: str, hours: tuple[int, int], fingerprint: RunFingerprint
) -> Path:
    """Record that ``month`` (``YYYY-MM``, store hours ``hours`` = [start, stop)) is written."""
    doc = {
        "month": month,
        "hours": list(hours),
        "gridcarbon_version": fingerprint["gridcarbon_version"],
        "config_sha256": fingerprint["config_sha256"],
        "run": _fingerprint_digest(fingerprint),
    }
    (folder / MARKERS).mkdir(exist_ok=True)
    text = json.dumps(doc, indent=1) + "\n"
    return atomic_write(
        folder / MARKERS / f"{month}.json",
        lambda tmp: tmp.write_text(text, encoding="utf-8"),
        overwrite=True,
    )


def done_months(folder: Path, fingerprint: RunFingerprint) -> dict[str, tuple[int, int]]:
    """The months whose marker in ``folder`` names this run (month → store hours)."""
    out: dict[str, tuple[int, int]] = {}
    digest = _fingerprint_digest(fingerprint)
    for path in sorted((folder / MARKERS).glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # an unreadable marker proves nothing: the month is written again
        if isinstance(doc, dict) and doc.get("run") == digest:
            out[str(doc["month"])] = (int(doc["hours"][0]), int(doc["hours"][1]))
    return out


# -- the store -----------------------------------------------------------------------------------
def _time_vars(ds: xr.Dataset) -> list[str]:
    return [str(v) for v in ds.variables if "time" in ds[v].dims and v != "time"]


def _prepared(part: xr.Dataset) -> xr.Dataset:
    part = part.copy()
    for name, coord in part.coords.items():
        if coord.dtype == object:  # fixed-width unicode for the Zarr backend
            part.coords[name] = coord.astype(str)
    return cf_dataset(part, zarr=True)


def store_encoding(ds: xr.Dataset, codec: str = DEFAULT_CODEC, tile: int | None = None) -> dict:
    """The encoding of a store: every time-dependent array in chunks of :data:`TIME_CHUNK` hours
    (``tile`` × ``tile`` cells in space when given, else the whole grid), float data compressed
    with ``codec``; time in integer hours since 1970."""
    enc: dict = {}
    for name in _time_vars(ds):
        var = ds[name]
        chunks = tuple(
            TIME_CHUNK if d == "time" else min(tile, n) if tile and d in ("y", "x") else n
            for d, n in zip(var.dims, var.shape, strict=True)
        )
        enc[name] = {"chunks": chunks}
        if var.dtype.kind == "f":
            enc[name].update({"dtype": "float32", "compressors": [_codec(codec)]})
    hours = {
        "units": "hours since 1970-01-01 00:00:00",
        "calendar": "proleptic_gregorian",
        "dtype": "int64",
    }
    enc["time"] = dict(hours)
    if "time_bnds" in ds:
        enc["time_bnds"] = {**hours, "chunks": (TIME_CHUNK, 2)}
    return merge_encoding(cf_encoding(ds, netcdf=False), enc)


def create_store(
    month: xr.Dataset,
    hours: np.ndarray,
    path: str | Path,
    *,
    attrs: Mapping[str, str] | None = None,
    codec: str = DEFAULT_CODEC,
    tile: int | None = None,
) -> Path:
    """Create the whole store of a period: every variable of ``month`` (one month of the emission
    Dataset, the template) over all ``hours`` (UTC, hour-beginning), the data not yet written.

    The store appears whole or not at all (built under a temporary name and renamed).  The
    static variables and the time axis with its bounds are written now; the time-dependent data
    by :func:`write_month`.
    """
    import dask.array as da

    path = Path(path)
    template = _prepared(month)
    nt = int(np.asarray(hours).size)
    full_time = np.asarray(hours, dtype="datetime64[ns]")
    out = {}
    for name in _time_vars(template):
        if name == "time_bnds":
            continue
        var = template[name]
        shape = tuple(nt if d == "time" else n for d, n in zip(var.dims, var.shape, strict=True))
        chunks = tuple(TIME_CHUNK if d == "time" else -1 for d in var.dims)
        out[name] = xr.Variable(
            var.dims, da.zeros(shape, dtype=var.dtype, chunks=chunks), var.attrs, var.encoding
        )
    static = template.drop_vars(_time_vars(template) + ["time"])
    ds = static.assign_coords(time=("time", full_time, template["time"].attrs))
    ds = ds.assign(out)
    if "time_bnds" in template:
        one = np.timedelta64(1, "h")
        ds["time_bnds"] = (
            ("time", "nv"),
            np.stack([full_time, full_time + one], axis=1),
            template["time_bnds"].attrs,
        )
    if attrs is not None:
        ds.attrs.update(attrs)
    with atomic_path(path) as tmp, deferred_signals():
        ds.to_zarr(
            tmp,
            mode="w",
            compute=False,
            encoding=store_encoding(ds, codec, tile),
            consolidated=False,
            zarr_format=2,
        )
    return path


def write_month(path: str | Path, month: xr.Dataset, start: int) -> None:
    """Write the time-dependent data of ``month`` into the store at hours ``start`` onwards.

    Whole chunks only: ``start`` and the month's length must be multiples of
    :data:`TIME_CHUNK`, so no two months share a chunk (and a month rewritten on resume touches
    no other month's data).
    """
    n = month.sizes["time"]
    if start % TIME_CHUNK or n % TIME_CHUNK:
        raise InputDataError(
            f"a month of {n} hours starting at hour {start} does not fill whole {TIME_CHUNK}-hour "
            "chunks; the period must start and end at Beijing midnight"
        )
    part = _prepared(month)
    keep = [v for v in _time_vars(part) if v != "time_bnds"]
    part = part[keep].drop_vars([c for c in part[keep].coords if "time" not in part[c].dims])
    part = part.drop_vars("time")
    for var in part.variables.values():
        var.encoding = {}
    with deferred_signals():  # an interrupt inside xarray's writer dead-locks
        part.to_zarr(
            path, region={"time": slice(start, start + n)}, consolidated=False, zarr_format=2
        )


def store_attrs(month: xr.Dataset, attrs: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The global attributes :func:`create_store` writes for the template ``month`` and
    ``attrs`` (the template's CF attributes, updated with ``attrs``)."""
    out = dict(_prepared(month).attrs)
    out.update(attrs or {})
    return out


def put_store_attrs(path: str | Path, attrs: Mapping[str, Any]) -> None:
    """Replace the global attributes of the store (before its metadata are consolidated), e.g.
    with those of the period's first month when another month created the store."""
    import zarr
    from xarray.backends.zarr import encode_zarr_attr_value

    with deferred_signals():
        group = zarr.open_group(str(path), mode="r+", zarr_format=2)
        group.attrs.put({k: encode_zarr_attr_value(v) for k, v in attrs.items()})


def consolidate_store(path: str | Path) -> None:
    """Consolidate the store's metadata (once, when every month is written)."""
    import zarr

    with deferred_signals():
        zarr.consolidate_metadata(str(path))


def _chunk_reader(array_dir: Path, var: xr.Variable) -> tuple[Any, dict] | None:
    """The codec and metadata of a Zarr format 2 array that :func:`read_time_block` can decode
    straight from its chunk files: float, C order, no filters, chunked along ``time`` only,
    a NaN fill value and no scaling.  None for anything else (read through xarray then)."""
    import numcodecs

    meta_file = array_dir / ".zarray"
    if not meta_file.is_file() or var.dims[:1] != ("time",):
        return None
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    plain = (
        meta.get("zarr_format") == 2
        and meta.get("order") == "C"
        and not meta.get("filters")
        and meta.get("compressor") is not None
        and np.dtype(meta["dtype"]).kind == "f"
        and meta.get("fill_value") == "NaN"
        and list(meta["chunks"][1:]) == list(meta["shape"][1:])
        and tuple(meta["shape"]) == tuple(var.shape)
        and not {"scale_factor", "add_offset"} & set(var.encoding)
    )
    if not plain:
        return None
    return numcodecs.get_codec(meta["compressor"]), meta


def _read_chunks(array_dir: Path, codec: Any, meta: dict, start: int, stop: int) -> np.ndarray:
    """Hours ``start:stop`` of one array, each chunk file decoded into its place."""
    step = int(meta["chunks"][0])
    rest = tuple(meta["shape"][1:])
    dtype = np.dtype(meta["dtype"])
    sep = meta.get("dimension_separator") or "."
    out = np.empty((stop - start, *rest), dtype)
    tail = sep.join(["0"] * len(rest))
    for k in range(start // step, -(-stop // step)):
        a, b = k * step, (k + 1) * step
        name = f"{k}{sep}{tail}" if rest else str(k)
        path = array_dir / name
        if not path.is_file():  # a chunk never written (only fill values): Zarr reads NaN
            out[max(a, start) - start : min(b, stop) - start] = np.nan
            continue
        raw = path.read_bytes()
        if a >= start and b <= stop:
            codec.decode(raw, out=out[a - start : b - start])
        else:
            whole = np.empty((step, *rest), dtype)
            codec.decode(raw, out=whole)
            out[max(a, start) - start : min(b, stop) - start] = whole[
                max(a, start) - a : min(b, stop) - a
            ]
    return out


def read_time_block(store: str | Path, ds: xr.Dataset, hours: slice) -> xr.Dataset:
    """``ds.isel(time=hours).load()`` for ``ds`` opened lazily from the Zarr store ``store``,
    with its time-dependent arrays decoded straight from their chunk files (numcodecs, one
    chunk after another into the block) instead of through zarr-python and xarray's decoding,
    which take two to three times longer for a year (``benchmarks/bench_scale.py --part
    read``).  The values, coordinates and attributes equal those of ``ds.isel(time=hours)
    .load()``; arrays this reader does not know (other layouts) are read through xarray.
    """
    store = Path(store)
    start, stop, step = hours.indices(ds.sizes["time"])
    if step != 1:
        raise InputDataError(f"read_time_block reads consecutive hours, got a step of {step}")
    lazy = ds.isel(time=hours)
    direct: dict[str, np.ndarray] = {}
    with deferred_signals():  # an interrupted read can dead-lock like a write
        for name, var in ds.data_vars.items():
            reader = _chunk_reader(store / str(name), var.variable)
            if reader is not None:
                direct[str(name)] = _read_chunks(store / str(name), *reader, start, stop)
        rest = lazy.drop_vars(list(direct)).load()
    data = {}
    for name, var in lazy.data_vars.items():
        if name in direct:
            v = var.variable
            data[name] = xr.Variable(v.dims, direct[str(name)], v.attrs, v.encoding)
        else:
            data[name] = rest[name].variable
    out = xr.Dataset(data, coords=rest.coords, attrs=rest.attrs)
    out.encoding = dict(rest.encoding)
    return out


@dataclass(frozen=True)
class TimeChunks:
    """The chunk files of one array of a Zarr format 2 store chunked along ``time`` only, read
    one chunk at a time into a buffer the caller owns (e.g. to reduce each chunk while it is
    in the processor's cache instead of building a month or a year).

    Attributes
    ----------
    path : Path
        The array's folder in the store.
    codec : numcodecs codec
        Its compressor.
    step : int
        Hours per chunk.
    hours : int
        Hours of the whole array.
    rest : tuple of int
        The shape of one hour (e.g. ``(ny, nx)``).
    dtype : numpy.dtype
        The stored dtype.
    sep : str
        The chunk-key separator (``.`` or ``/``).
    """

    path: Path
    codec: Any
    step: int
    hours: int
    rest: tuple[int, ...]
    dtype: np.dtype
    sep: str

    def chunks(self, start: int, stop: int) -> range:
        """The indices of the chunks holding hours ``start:stop``."""
        return range(start // self.step, -(-stop // self.step))

    def buffer(self) -> np.ndarray:
        """A new buffer for one chunk, ``(step, *rest)``."""
        return np.empty((self.step, *self.rest), self.dtype)

    def read(self, k: int, out: np.ndarray, scratch: bytearray | None = None) -> np.ndarray:
        """Decode chunk ``k`` into ``out`` (a C-contiguous ``(step, *rest)`` array of the
        stored dtype); a chunk never written (only fill values) reads as NaN, as in Zarr.
        ``scratch``: a buffer for the compressed bytes, reused from call to call (grown when
        too small), which spares a new allocation per chunk.  Returns ``out``; its first
        ``min(step, hours - k * step)`` rows are the chunk's."""
        tail = self.sep.join(["0"] * len(self.rest))
        path = self.path / (f"{k}{self.sep}{tail}" if self.rest else str(k))
        try:
            f = open(path, "rb", buffering=0)  # noqa: SIM115 (closed below)
        except FileNotFoundError:
            out[...] = np.nan
            return out
        with f:
            if scratch is None:
                raw: Any = f.read()
            else:
                size = os.fstat(f.fileno()).st_size
                if len(scratch) < size:
                    scratch.extend(bytes(size - len(scratch)))
                view = memoryview(scratch)[:size]
                got = 0
                while got < size:
                    n = f.readinto(view[got:])
                    if not n:
                        raise InputDataError(f"{str(path)!r} ended after {got} of {size} bytes")
                    got += n
                raw = view
        self.codec.decode(raw, out=out)
        return out


def time_chunks(store: str | Path, ds: xr.Dataset, name: str) -> TimeChunks | None:
    """The :class:`TimeChunks` of variable ``name`` of ``ds`` (opened lazily from the Zarr
    store ``store``), or None when its layout is not one this reader decodes (see
    :func:`read_time_block`; read it through xarray then)."""
    array_dir = Path(store) / name
    reader = _chunk_reader(array_dir, ds[name].variable)
    if reader is None:
        return None
    codec, meta = reader
    return TimeChunks(
        path=array_dir,
        codec=codec,
        step=int(meta["chunks"][0]),
        hours=int(meta["shape"][0]),
        rest=tuple(int(n) for n in meta["shape"][1:]),
        dtype=np.dtype(meta["dtype"]),
        sep=meta.get("dimension_separator") or ".",
    )
