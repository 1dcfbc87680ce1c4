"""make_map / write_map / run_map_stage / the CLI, checked on the HTML (no browser)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures import XSS_IMG, XSS_SCRIPT, layer_control_names, small_grid, small_prior

from gridcarbon.errors import InputDataError, OutputExistsError
from gridcarbon.maps import LAYER_NAMES, MapConfig, make_map, map_html, write_map
from gridcarbon.maps.assets import external_references, inline_assets, vendored_manifest
from gridcarbon.maps.cli import map_command
from gridcarbon.maps.pipeline import from_inversion_result, from_zoning_result, run_map_stage

ROOT = Path(__file__).resolve().parents[2]
MAX_BYTES = 15 * 1024 * 1024


_layer_names = layer_control_names


def test_prior_only_map_has_rasters_and_boundaries():
    page = map_html(make_map(small_prior()))
    names = _layer_names(page)
    assert {
        "CO2 prior",
        "NOx prior",
        "VOC prior",
        LAYER_NAMES["province"],
        LAYER_NAMES["city"],
        LAYER_NAMES["county"],
    } <= set(names)
    assert not any("posterior" in n for n in names)
    assert LAYER_NAMES["units"] not in names
    assert page.count('"data:image/png;base64,') == 3  # one image overlay per species


def test_full_map_layers_and_legends(small_map_path):
    page = small_map_path.read_text(encoding="utf-8")
    names = _layer_names(page)
    for sp in ("CO2", "NOx", "VOC"):
        for v in ("prior", "posterior", "posterior − prior", "uncertainty reduction"):
            assert f"{sp} {v}" in names
    for k in ("units", "hot3", "hot2", "stations", "province"):
        assert LAYER_NAMES[k] in names
    # one legend per raster, plus units, hotspots (2) and stations
    assert page.count("box.setAttribute('data-gc-legend'") == 12 + 4
    assert "gridcarbon-provenance" in page and '"synthetic": "true"' in page


def test_self_contained_by_default_and_cdn_option(small):
    m = make_map(small["prior"])
    page = map_html(m)
    assert external_references(page) == []
    assert "L.version" in page or 'version="1.9.3"' in page
    assert "sourceMappingURL" not in page
    cdn = map_html(m, self_contained=False)
    refs = external_references(cdn)
    assert refs and all("leaflet@1.9.3" in r for r in refs)
    assert len(cdn) < len(page)
    cfg = MapConfig(self_contained=False)
    assert external_references(map_html(make_map(small["prior"], config=cfg))) == refs


def test_inline_refuses_unknown_cdn_asset():
    page = '<script src="https://cdn.example.org/x.js"></script>'
    with pytest.raises(Exception, match="no vendored copy"):
        inline_assets(page)
    assert external_references('<img src="//x.org/a.png">') == ["//x.org/a.png"]


def test_hostile_strings_never_reach_the_page_raw(small_map_path):
    page = small_map_path.read_text(encoding="utf-8")
    # the only "</script>" strings are real script ends: as many as script starts
    assert page.lower().count("</script>") == len(re.findall(r"<script\b", page, re.I))
    assert XSS_IMG not in page and XSS_SCRIPT not in page
    assert re.search(r"<img\s+src=x", page) is None
    # present as data only: JSON text with "<" and ">" escaped, drawn with textContent
    assert '"unit_name": "\\u003cimg src=x onerror=alert(1)\\u003e"' in page
    assert "&lt;img" not in page  # never HTML-escaped into markup either


def test_write_map_is_atomic_and_refuses_overwrite(tmp_path, small):
    m = make_map(small["prior"])
    out = write_map(m, tmp_path / "m.html")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(OutputExistsError):
        write_map(m, out)
    out.write_text("old", encoding="utf-8")
    write_map(m, out, overwrite=True)
    assert out.read_text(encoding="utf-8") != "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.html"]  # no temporary left over


def test_config_options(small):
    cfg = MapConfig(
        raster_variants=["difference"],
        raster_species=["NOx"],
        tile_layers=[],
        unit_metric="CO2_total_t",
        raster_initial="difference NOx",
    )
    page = map_html(make_map(small["prior"], small["posterior"], units=small["units"], config=cfg))
    names = _layer_names(page)
    assert [n for n in names if "NOx" in n or "CO2" in n and "Hot" not in n] == [
        "NOx posterior − prior"
    ]
    assert "Web basemap" not in " ".join(names)
    assert "CO2 total t" in page
    with pytest.raises(InputDataError, match="not a column"):
        make_map(small["prior"], units=small["units"], config=MapConfig(unit_metric="nope"))
    with pytest.raises(InputDataError, match="does not match"):
        make_map(small["prior"], small_prior(small_grid(5, 5)))


def test_unit_properties_are_compact_and_classed(small):
    m = make_map(small["prior"], units=small["units"], unit_series=small["unit_series"])
    page = map_html(m, self_contained=False)
    # per-frame class strings: 24 characters for hours, 12 for months
    hours = re.findall(r'"c_h": "([0-9a-z_-]+)"', page)
    months = re.findall(r'"c_m": "([0-9a-z_-]+)"', page)
    assert len(hours) == 4 and all(len(h) == 24 for h in hours)
    assert len(months) == 4 and all(len(x) == 12 for x in months)
    assert len(set("".join(hours))) > 2  # the frames really differ
    assert '"Hour of day (Beijing): colocated hotspot hours"' in page


def test_adapters_take_attributes_or_keys(small):
    class Z:
        units = small["units"]
        diurnal = small["unit_series"][["CO2"]]
        monthly = None
        hotspots = small["hotspots"]

    z = from_zoning_result(Z())
    assert z["units"] is Z.units and z["hotspots"] is Z.hotspots
    assert z["unit_series"]["hour"] is Z.diurnal
    inv = from_inversion_result(
        {
            "posterior": small["posterior"],
            "stations": small["stations"],
            "station_series": small["station_series"],
        }
    )
    assert inv["posterior"] is small["posterior"]
    assert from_inversion_result(None) == {
        "posterior": None,
        "stations": None,
        "station_series": None,
    }


def test_run_map_stage(tmp_path, small):
    from gridcarbon.config import RunConfig

    inv = {
        "posterior": small["posterior"],
        "stations": small["stations"],
        "station_series": small["station_series"],
    }
    zon = {
        "units": small["units"],
        "unit_series": small["unit_series"],
        "hotspots": small["hotspots"],
    }
    path = run_map_stage(
        RunConfig(), small["prior"], tmp_path / "map.html", zoning_result=zon, inversion_result=inv
    )
    names = _layer_names(path.read_text(encoding="utf-8"))
    assert "CO2 posterior − prior" in names and LAYER_NAMES["stations"] in names
    assert LAYER_NAMES["hot3"] in names


def test_cli_reads_a_run_folder(tmp_path, small):
    run = tmp_path / "run"
    run.mkdir()
    small["prior"].to_netcdf(run / "prior.nc")
    small["posterior"].to_netcdf(run / "posterior.nc")
    small["units"].to_file(run / "zones.gpkg", layer="control_units")
    small["hotspots"].to_netcdf(run / "hotspots.nc")
    small["stations"].to_csv(run / "stations.csv", index=False)
    small["station_series"].to_csv(run / "station_series.csv", index=False)
    r = CliRunner().invoke(map_command, ["--run-dir", str(run)])
    assert r.exit_code == 0, r.output
    assert "self-contained" in r.output and (run / "map.html").exists()
    names = _layer_names((run / "map.html").read_text(encoding="utf-8"))
    assert {
        "CO2 posterior",
        LAYER_NAMES["units"],
        LAYER_NAMES["hot3"],
        LAYER_NAMES["stations"],
    } <= set(names)
    r2 = CliRunner().invoke(map_command, ["--run-dir", str(run)])
    assert r2.exit_code != 0  # exists, no --overwrite
    r3 = CliRunner().invoke(
        map_command, ["--run-dir", str(run), "--out", str(tmp_path / "c.html"), "--cdn"]
    )
    assert r3.exit_code == 0, r3.output
    assert external_references((tmp_path / "c.html").read_text(encoding="utf-8"))
    r4 = CliRunner().invoke(map_command, ["--run-dir", str(tmp_path / "nothing")])
    assert r4.exit_code != 0


def test_vendored_assets_match_manifest():
    manifest = vendored_manifest()
    assert [p["name"] for p in manifest["packages"]] == ["leaflet"]
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import vendor_map_assets
    finally:
        sys.path.pop(0)
    assert vendor_map_assets.check() == []
    lic = (ROOT / "gridcarbon/maps/static/leaflet/LICENSE").read_text(encoding="utf-8")
    assert "Copyright" in lic


@pytest.mark.slow
def test_default_map_size(default_map):
    """The whole-province default map stays within 15 MB (its time: benchmarks/)."""
    size = default_map["bytes"]
    assert size <= MAX_BYTES
    page = default_map["path"].read_text(encoding="utf-8")
    assert external_references(page) == []
    n_units = len(default_map["inputs"]["units"])
    assert page.count('"unit_code":') == n_units
    prov = json.loads(re.search(r'id="gridcarbon-provenance">(.*?)</script>', page).group(1))
    assert prov["synthetic"] == "true"
