"""Control-unit files at the edge: GeoPackage, Shapefile (any DBF encoding), GeoJSON, zip.

The only code that opens a control-unit file.  Whatever the file-reading libraries raise (pyogrio's
``DataSourceError`` for a zero-byte GeoPackage, ``zipfile.BadZipFile``, a ``UnicodeDecodeError``
from a field name cut inside a character, ...) leaves this module as one
:class:`~gridcarbon.errors.InputFileError` that names the file and says what to do.

Shapefile attribute encodings: the ``.cpg`` file is honoured (``936`` / ``ANSI 936`` are code
pages); without one the ``.dbf`` records are decoded as UTF-8 and, if that fails, taken as GB18030
(a superset of GBK, the usual encoding of Chinese Shapefiles written without a ``.cpg``).

Field names are limited to 10 bytes in a DBF, so long Chinese names arrive cut (环境管控单元编码 →
环境管控单 in GBK, 环境管 in UTF-8, where the cut splits a 3-byte character).  Such names are read
without error; :func:`field_table` lists every cut form gridcarbon recognises.
"""

from __future__ import annotations

import codecs
import logging
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridcarbon.errors import InputFileError
from gridcarbon.io.layer_styles import LAYER_STYLES_TABLE

__all__ = [
    "FIELD_TABLE_FILE",
    "SUPPORTED_SUFFIXES",
    "UnitsFile",
    "detect_dbf_encoding",
    "field_table",
    "read_units_file",
]

log = logging.getLogger(__name__)

#: The committed table of control-unit field names (package data).
FIELD_TABLE_FILE = "control_unit_fields.csv"
SUPPORTED_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".zip")
_VECTOR_MEMBERS = (".shp", ".gpkg", ".geojson", ".json")
_FIX_FILE = "export the layer again (QGIS: right-click the layer > Export > Save Features As)"


@dataclass(frozen=True)
class UnitsFile:
    """Features of a control-unit file as read, with what is needed to point a user at them.

    Attributes
    ----------
    frame : GeoDataFrame
        Attributes and geometry, one row per feature in file order (``RangeIndex``).
    source : str
        The file as the user named it (``"GeoDataFrame"`` for an in-memory table).
    fids : ndarray or None
        Feature ids as GIS software shows them (0-based in a Shapefile, 1-based in a
        GeoPackage), or None.
    layer : str or None
        The layer read.
    encoding : str or None
        Attribute encoding of a Shapefile.
    field_names_cut : bool
        A field name was cut inside a character at the DBF 10-byte limit.
    """

    frame: gpd.GeoDataFrame
    source: str
    fids: np.ndarray | None = None
    layer: str | None = None
    encoding: str | None = None
    field_names_cut: bool = False

    def location(self, position: int) -> str:
        """Where the feature at 0-based ``position`` sits, as the user finds it."""
        where = f"feature {position + 1}"
        if self.fids is not None:
            where += f" (FID {self.fids[position]})"
        return where


@lru_cache(maxsize=1)
def field_table() -> pd.DataFrame:
    """The committed table of control-unit field names (``gridcarbon/reference/control_unit_fields.csv``).

    Returns
    -------
    DataFrame
        Columns ``column`` (gridcarbon's standard column), ``field`` (as files name it), ``form``
        (``name`` or a DBF-cut form), ``of`` (the full name a cut form comes from), ``source`` and
        ``certain`` (see the file's header and ``data_manifest.yaml``).
    """
    path = Path(str(files("gridcarbon") / "reference" / FIELD_TABLE_FILE))
    return pd.read_csv(path, comment="#", dtype=str, keep_default_na=False, encoding="utf-8")


def _codec_of_cpg(label: str, where: str) -> str:
    """The encoding named by a ``.cpg`` file (``GBK``, ``UTF-8``, ``936``, ``ANSI 936`` ...)."""
    match = re.fullmatch(r"(?:ANSI\s*|CP)?(\d{3,5})", label.strip(), flags=re.IGNORECASE)
    name = f"cp{match.group(1)}" if match else label.strip()
    try:
        codecs.lookup(name)
    except LookupError:
        raise InputFileError(
            f"{where} names the encoding {label!r}, which is not known; correct the .cpg file or "
            "set zoning.units_encoding (e.g. GBK or UTF-8)"
        ) from None
    return name if match else label.strip()


def _encoding_of(cpg: str | None, dbf: bytes, where: str) -> str:
    if cpg:
        return _codec_of_cpg(cpg, where)
    header_len = int.from_bytes(dbf[8:10], "little") if len(dbf) >= 10 else 0
    try:
        dbf[header_len:].decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError:
        return "GB18030"


def detect_dbf_encoding(shp_path: str | Path) -> str:
    """Attribute encoding of a Shapefile: its ``.cpg`` if present, else UTF-8 or GB18030.

    Parameters
    ----------
    shp_path : path
        The ``.shp`` file.

    Returns
    -------
    str
        The ``.cpg`` label (code pages such as ``936`` become ``cp936``); without a ``.cpg``,
        ``"UTF-8"`` when the ``.dbf`` records decode as UTF-8, else ``"GB18030"``.

    Raises
    ------
    InputFileError
        No ``.dbf`` next to the ``.shp``, or a ``.cpg`` naming an unknown encoding.
    """
    shp_path = Path(shp_path)
    sidecar = {p.suffix.lower(): p for p in shp_path.parent.glob(shp_path.stem + ".*")}
    dbf = sidecar.get(".dbf")
    if dbf is None:
        raise InputFileError(
            f"shapefile {str(shp_path)!r} has no .dbf attribute file next to it; copy all of its "
            "files (.shp, .shx, .dbf, .prj, .cpg) together"
        )
    cpg = sidecar.get(".cpg")
    label = cpg.read_text(encoding="ascii", errors="ignore") if cpg else None
    return _encoding_of(label, dbf.read_bytes(), str(cpg or dbf))


def _zip_member(path: Path, layer: str | None) -> tuple[str, str | None]:
    """The dataset inside a zip (vsizip path) and, for a Shapefile, its attribute encoding."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.startswith("__MACOSX/")]
            datasets = [n for n in names if n.lower().endswith(_VECTOR_MEMBERS)]
            if layer is not None:
                datasets = [n for n in datasets if Path(n).stem == layer] or datasets
            if len(datasets) != 1:
                raise InputFileError(
                    f"zip file {str(path)!r} holds {len(datasets)} datasets "
                    f"({datasets[:6] or 'none'}); give a zip with one Shapefile, GeoPackage or "
                    "GeoJSON, or unzip it and give the file"
                )
            member = datasets[0]
            encoding = None
            if member.lower().endswith(".shp"):
                stem = member[:-4].lower()
                by_ext = {n.lower()[len(stem) :]: n for n in names if n.lower().startswith(stem)}
                if ".dbf" not in by_ext:
                    raise InputFileError(
                        f"zip file {str(path)!r}: {member!r} has no .dbf attribute file next to "
                        "it; zip all of the Shapefile's files together"
                    )
                cpg = (
                    zf.read(by_ext[".cpg"]).decode("ascii", "ignore") if ".cpg" in by_ext else None
                )
                encoding = _encoding_of(cpg, zf.read(by_ext[".dbf"]), f"{path}!{member}")
    except InputFileError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputFileError(
            f"zip file {str(path)!r} is damaged or not a zip file ({exc}); {_FIX_FILE} and zip "
            "it again"
        ) from None
    return f"/vsizip/{path.resolve()}/{member}", encoding


def _pick_layer(dataset: str, path: Path) -> str | None:
    """The polygon layer of a multi-layer GeoPackage (the only layer otherwise; a
    ``layer_styles`` table is not a layer)."""
    import pyogrio

    listed = pyogrio.list_layers(dataset)
    if len(listed) <= 1:
        return None
    # QGIS keeps layer styles in a table of the GeoPackage (ours do too): not a layer of units
    layers = [(n, k) for n, k in listed if n != LAYER_STYLES_TABLE]
    if len(layers) == 1:
        return str(layers[0][0])
    polygons = [name for name, kind in layers if kind is None or "Polygon" in str(kind)]
    if not polygons:
        raise InputFileError(
            f"{str(path)!r} has no polygon layer (layers: "
            f"{', '.join(f'{n} ({k})' for n, k in layers)}); give the file with the unit polygons"
        )
    if len(polygons) > 1:
        raise InputFileError(
            f"{str(path)!r} has {len(polygons)} polygon layers ({', '.join(polygons)}); choose "
            "one with zoning.units_layer"
        )
    log.info("reading layer %r of %s (the only polygon layer)", polygons[0], path)
    return polygons[0]


def _decode_cut_names(frame: gpd.GeoDataFrame, encoding: str, path: Path) -> gpd.GeoDataFrame:
    """Re-decode a frame read as Latin-1: field names leniently, values strictly."""

    def name(raw: str) -> str:
        return raw.encode("latin1").decode(encoding, errors="ignore")

    geometry = frame.geometry.name
    out = frame.rename(columns={c: name(c) for c in frame.columns if c != geometry})
    for column in out.columns:
        if column == geometry or pd.api.types.is_numeric_dtype(out[column]):
            continue
        values = out[column].to_numpy(dtype=object)
        for i, value in enumerate(values):
            if isinstance(value, str):
                try:
                    values[i] = value.encode("latin1").decode(encoding)
                except UnicodeDecodeError:
                    raise InputFileError(
                        f"{str(path)!r}, feature {i + 1}: the value of field {column!r} is not "
                        f"valid {encoding}; set zoning.units_encoding to the file's encoding "
                        "(e.g. GBK)"
                    ) from None
        out[column] = values
    return out


def read_units_file(
    path: str | Path, layer: str | None = None, encoding: str | None = None
) -> UnitsFile:
    """Read the features of a control-unit file.

    Parameters
    ----------
    path : path
        GeoPackage (``.gpkg``), Shapefile (``.shp`` with its ``.dbf``, ``.shx``, ``.prj``,
        ``.cpg``), GeoJSON (``.geojson``/``.json``) or a zip holding one of them.
    layer : str, optional
        Layer of a multi-layer GeoPackage (default: its only polygon layer).
    encoding : str, optional
        Attribute encoding of a Shapefile (default: :func:`detect_dbf_encoding`).

    Returns
    -------
    UnitsFile
        Features in file order, with their FIDs, the layer and the encoding used.

    Raises
    ------
    InputFileError
        The file is missing, empty (0 bytes), damaged, of another format, or has no polygon
        layer; the message names the file and what to do.
    """
    import pyogrio
    import pyogrio.errors

    path = Path(path)
    if not path.exists():
        raise InputFileError(f"control-unit file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputFileError(
            f"control-unit file {str(path)!r} has suffix {suffix!r}; give a GeoPackage (.gpkg), "
            "Shapefile (.shp), GeoJSON (.geojson/.json) or a zip holding one of them"
        )
    if path.is_dir():
        raise InputFileError(
            f"control-unit file {str(path)!r} is a folder; give the GeoPackage, Shapefile or "
            "GeoJSON file itself"
        )
    if path.stat().st_size == 0:
        raise InputFileError(
            f"control-unit file {str(path)!r} is empty (0 bytes): the export or copy did not "
            f"finish; {_FIX_FILE}"
        )
    dataset = str(path)
    if suffix == ".zip":
        dataset, detected = _zip_member(path, layer)
        encoding = encoding or detected
    elif suffix == ".shp":
        encoding = encoding or detect_dbf_encoding(path)
    kwargs: dict[str, Any] = {"fid_as_index": True}
    if encoding is not None:
        kwargs["encoding"] = encoding
    cut = False
    errors = (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.FeatureError,
        pyogrio.errors.GeometryError,
        pyogrio.errors.CRSError,
        OSError,
        ValueError,
        RuntimeError,
    )
    try:
        if layer is None and dataset.lower().endswith(".gpkg"):
            layer = _pick_layer(dataset, path)
        if layer is not None:
            kwargs["layer"] = layer
        try:
            frame = pyogrio.read_dataframe(dataset, **kwargs)
        except UnicodeDecodeError:
            # A DBF field name cut at 10 bytes inside a UTF-8 character: read the raw bytes as
            # Latin-1 and decode them here, dropping the cut character from the name.
            frame = pyogrio.read_dataframe(dataset, **{**kwargs, "encoding": "latin1"})
            frame = _decode_cut_names(frame, encoding or "utf-8", path)
            cut = True
    except InputFileError:
        raise
    except errors as exc:
        detail = str(exc).split("; It might help")[0]
        raise InputFileError(
            f"cannot read control units from {str(path)!r}: {detail}; check that it is a "
            f"complete {suffix} file (open it in QGIS) or {_FIX_FILE}"
        ) from None
    fids = frame.index.to_numpy() if frame.index.name == "fid" else None
    frame = frame.reset_index(drop=True)
    return UnitsFile(
        frame=frame,
        source=str(path),
        fids=fids,
        layer=layer,
        encoding=(f"{encoding} (field names cut at the DBF 10-byte limit)" if cut else encoding),
        field_names_cut=cut,
    )
