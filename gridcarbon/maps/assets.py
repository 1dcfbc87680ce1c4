"""Vendored browser assets and the post-processing that makes a map self-contained.

folium renders ``<script src=...>``/``<link href=...>`` tags pointing at CDNs.  For a
self-contained file we (1) trim folium's default assets to Leaflet alone (the map uses no jQuery,
Bootstrap, Font Awesome or awesome-markers: stations are circle markers and the legends are
plain HTML), and (2) replace each remaining tag by the vendored file's content, with CSS images as
``data:`` URIs and source-map comments removed.  Any external reference left over is an error, so
a new folium element that brings its own CDN asset cannot silently break the offline promise.
"""

from __future__ import annotations

import base64
import json
import re
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from gridcarbon.errors import GridcarbonError

__all__ = [
    "static_path",
    "LEAFLET_JS",
    "LEAFLET_CSS",
    "inline_assets",
    "external_references",
    "vendored_manifest",
]

LEAFLET_VERSION = "1.9.3"
LEAFLET_JS = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.js"
LEAFLET_CSS = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.css"

#: CDN address → vendored file (relative to ``gridcarbon/maps/static``).
VENDORED = {
    LEAFLET_JS: "leaflet/leaflet.js",
    LEAFLET_CSS: "leaflet/leaflet.css",
}


def static_path(rel: str = "") -> Path:
    """Path of a vendored file under ``gridcarbon/maps/static``."""
    return Path(str(files("gridcarbon.maps") / "static")) / rel


def vendored_manifest() -> dict:
    """``static/MANIFEST.json``: vendored packages, versions, licences and checksums."""
    return json.loads(static_path("MANIFEST.json").read_text(encoding="utf-8"))


_SOURCEMAP = re.compile(r"^\s*//# sourceMappingURL=.*$|/\*# sourceMappingURL=.*?\*/", re.M)


@lru_cache(maxsize=8)
def _inline_js(rel: str) -> str:
    text = static_path(rel).read_text(encoding="utf-8")
    text = _SOURCEMAP.sub("", text)
    # a literal "</script" inside an inline script would end it early
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.I)


@lru_cache(maxsize=8)
def _inline_css(rel: str) -> str:
    path = static_path(rel)
    text = _SOURCEMAP.sub("", path.read_text(encoding="utf-8"))

    def data_uri(m: re.Match) -> str:
        ref = m.group(1).strip("'\"")
        if ref.startswith(("data:", "#")):
            return m.group(0)
        img = (path.parent / ref).resolve()
        if not img.is_file():
            raise GridcarbonError(f"vendored CSS {rel} refers to missing {ref}")
        mime = {"png": "image/png", "svg": "image/svg+xml", "gif": "image/gif"}[img.suffix[1:]]
        return f"url(data:{mime};base64,{base64.b64encode(img.read_bytes()).decode('ascii')})"

    text = re.sub(r"url\(([^)]*)\)", data_uri, text)
    return text.replace("</style", "<\\/style")


_SCRIPT_TAG = re.compile(r'<script\s+src="([^"]+)"\s*>\s*</script>', re.I)
_LINK_TAG = re.compile(r'<link\s+rel="stylesheet"\s+href="([^"]+)"\s*/?>', re.I)


def inline_assets(page: str) -> str:
    """Replace the vendored assets' ``<script src>``/``<link href>`` tags by their content.

    Raises :class:`GridcarbonError` if an external script or stylesheet is left that has no
    vendored copy.
    """

    def js(m: re.Match) -> str:
        rel = VENDORED.get(m.group(1))
        if rel is None:
            raise GridcarbonError(
                f"the map links {m.group(1)} and no vendored copy exists; add it to "
                "scripts/vendor_map_assets.py and gridcarbon.maps.assets.VENDORED"
            )
        return "<script>" + _inline_js(rel) + "</script>"

    def css(m: re.Match) -> str:
        rel = VENDORED.get(m.group(1))
        if rel is None:
            raise GridcarbonError(f"the map links stylesheet {m.group(1)} with no vendored copy")
        return "<style>" + _inline_css(rel) + "</style>"

    page = _SCRIPT_TAG.sub(js, page)
    page = _LINK_TAG.sub(css, page)
    left = external_references(page)
    if left:
        raise GridcarbonError(f"self-contained map still references {left[:5]}")
    return page


_EXTERNAL = re.compile(
    r"""<(?:script|link|img|iframe|source|video|audio)\b[^>]*?(?:src|href)\s*=\s*["']?((?:https?:)?//[^"' >]+)""",
    re.I,
)


def external_references(page: str) -> list[str]:
    """External (http, https or protocol-relative) URLs loaded by tags of ``page``.

    Tile URL templates of optional basemaps live inside JavaScript strings, not in tags, and are
    only requested when a reviewer switches such a layer on.
    """
    refs = _EXTERNAL.findall(page)
    refs += re.findall(r"""@import\s+(?:url\()?["']?((?:https?:)?//[^"')\s]+)""", page)
    return refs
