"""make_map / write_map / the map stage / the CLI, checked on the HTML (no browser)."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures import (
    XSS_IMG,
    XSS_SCRIPT,
    layer_control_names,
    small_boundaries,
    small_grid,
    small_prior,
    write_run_folder,
)

from gridcarbon.cli.maps import map_command
from gridcarbon.contracts import MapInputs, ZoningResult
from gridcarbon.errors import InputDataError, OutputExistsError
from gridcarbon.io.outputs import write_documents
from gridcarbon.io.tables import write_csv
from gridcarbon.maps import LAYER_NAMES, MapConfig, make_map, map_documents, map_html, write_map
from gridcarbon.maps.assets import external_references, inline_assets, vendored_manifest
from gridcarbon.maps.build import layer_names
from gridcarbon.maps.stage import run_map_stage
from gridcarbon.species import DEFAULT_SPECIES

ROOT = Path(__file__).resolve().parents[2]
MAX_BYTES = 15 * 1024 * 1024


_layer_names = layer_control_names


def test_prior_only_map_has_rasters_and_boundaries():
    grid = small_grid()
    page = map_html(make_map(MapInputs(small_prior(grid), boundaries=small_boundaries(grid))))
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
    # no boundaries given: no base layer
    bare = _layer_names(map_html(make_map(MapInputs(small_prior(grid)))))
    assert LAYER_NAMES["province"] not in bare and "CO2 prior" in bare


def test_full_map_layers_and_legends(small_map_path):
    page = small_map_path.read_text(encoding="utf-8")
    names = _layer_names(page)
    for sp in ("CO2", "NOx", "VOC"):
        for v in ("prior", "posterior", "posterior − prior", "uncertainty reduction"):
            assert f"{sp} {v}" in names
    for k in ("units", "unit_categories", "colocated", "pairwise", "stations", "province"):
        assert LAYER_NAMES[k] in names
    # one legend per raster, plus units, units by category, hotspots (2) and stations
    assert page.count("box.setAttribute('data-gc-legend'") == 12 + 5
    assert "gridcarbon-provenance" in page and '"synthetic": "true"' in page


def test_self_contained_by_default_and_cdn_option(small):
    m = make_map(MapInputs(small["inputs"].prior))
    page = map_html(m)
    assert external_references(page) == []
    assert "L.version" in page or 'version="1.9.3"' in page
    assert "sourceMappingURL" not in page
    cdn = map_html(m, self_contained=False)
    refs = external_references(cdn)
    assert refs and all("leaflet@1.9.3" in r for r in refs)
    assert len(cdn) < len(page)
    cfg = MapConfig(self_contained=False)
    assert external_references(map_html(make_map(MapInputs(small["inputs"].prior), cfg))) == refs
    # the documents follow the configuration
    docs = map_documents(make_map(MapInputs(small["inputs"].prior), cfg), cfg)
    assert list(docs) == ["map.html"] and docs["map.html"].kind == "html"
    assert external_references(docs["map.html"].content) == refs


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
    m = make_map(MapInputs(small["inputs"].prior))
    out = write_map(m, tmp_path / "m.html")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(OutputExistsError):
        write_map(m, out)
    out.write_text("old", encoding="utf-8")
    write_map(m, out, overwrite=True)
    assert out.read_text(encoding="utf-8") != "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.html"]  # no temporary left over


def test_config_options(small):
    inputs = small["inputs"]
    cfg = MapConfig(
        raster_variants=["difference"],
        raster_species=["NOx"],
        tile_layers=[],
        unit_metric="CO2_kg",
        raster_initial="difference NOx",
    )
    page = map_html(make_map(dataclasses.replace(inputs, stations=None), cfg))
    names = _layer_names(page)
    rasters = [n for n in names if n.split()[0] in ("CO2", "NOx", "VOC")]
    assert rasters == ["NOx posterior − prior"]
    assert "Web basemap" not in " ".join(names)
    assert json.dumps("CO₂ emission (kg)")[1:-1] in page  # as the page's JSON writes it
    with pytest.raises(InputDataError, match="not a column"):
        make_map(inputs, MapConfig(unit_metric="nope"))
    with pytest.raises(InputDataError, match="not species of this map"):
        make_map(inputs, MapConfig(raster_species=["SO2"]))
    with pytest.raises(InputDataError, match="no variable"):
        make_map(inputs, MapConfig(unit_series_variables=["SO2"]))
    with pytest.raises(InputDataError, match="does not match"):
        make_map(MapInputs(inputs.prior, posterior=small_prior(small_grid(5, 5))))


def test_unit_properties_are_compact_and_classed(small):
    inputs = small["inputs"]
    page = map_html(make_map(MapInputs(inputs.prior, zoning=inputs.zoning)), self_contained=False)
    # per-frame class strings: 24 characters for hours, 12 for months
    for j in range(3):  # one hour and one month string per species
        hours = re.findall(rf'"c_h{j}": "([0-9a-z_-]+)"', page)
        months = re.findall(rf'"c_m{j}": "([0-9a-z_-]+)"', page)
        assert len(hours) == 4 and all(len(h) == 24 for h in hours)
        assert len(months) == 4 and all(len(x) == 12 for x in months)
        assert len(set("".join(hours))) > 2  # the frames really differ
    # every species has its slider modes, per km²; the units are coloured by co-located hours
    for sp in ("CO2", "NOx", "VOC"):
        assert json.dumps(f"Hour of day (Beijing): {sp} per km²") in page
        assert json.dumps(f"Month: {sp} per km²") in page
    hours = "Mean co-located hotspot hours (all species; area-weighted) (hours)"
    assert json.dumps(f"Total: {hours}") in page


def test_the_map_reads_the_zoning_result_by_its_fields(small, caplog):
    """Each missing field of the zoning result leaves its part out, and the log says why."""
    inputs = small["inputs"]
    z = inputs.zoning
    partial = ZoningResult(units=z.units.drop(columns=["coloc_all_hours", "area_km2"]))
    with caplog.at_level(logging.INFO, logger="gridcarbon.maps"):
        page = map_html(make_map(MapInputs(inputs.prior, zoning=partial)), self_contained=False)
    names = _layer_names(page)
    assert LAYER_NAMES["units"] in names
    assert LAYER_NAMES["colocated"] not in names and LAYER_NAMES["pairwise"] not in names
    assert "c_h" not in page and "var modes = " not in page  # no series, no slider
    # the next colouring column, and the tooltip without the absent ones
    assert '"Co-located hotspot cell-days (all species) (cell-days)"' in page
    log = caplog.text
    assert "no diurnal profile" in log and "no monthly tally" in log
    assert "no 'day' hotspots" in log and "area_km2" in log
    # a hotspot Dataset without the co-located variable is refused with its variables named
    bad = dataclasses.replace(z, hotspots={"day": z.hotspots["day"].drop_vars("coloc_all")})
    with pytest.raises(InputDataError, match="coloc_all"):
        make_map(MapInputs(inputs.prior, zoning=bad))


def test_run_map_stage_returns_documents(tmp_path, small):
    from gridcarbon.config import RunConfig

    docs = run_map_stage(small["inputs"], RunConfig().maps)
    paths = write_documents(docs, tmp_path)
    names = _layer_names(paths["map.html"].read_text(encoding="utf-8"))
    assert "CO2 posterior − prior" in names and LAYER_NAMES["stations"] in names
    assert LAYER_NAMES["colocated"] in names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.html"]


def test_cli_reads_a_run_folder(tmp_path, small):
    run = tmp_path / "run"
    write_run_folder(run, small["inputs"])
    r = CliRunner().invoke(map_command, ["--run-dir", str(run)])
    assert r.exit_code == 0, r.output
    assert "self-contained" in r.output and (run / "map.html").exists()
    assert "posterior, units, hotspots, stations" in r.output
    page = (run / "map.html").read_text(encoding="utf-8")
    names = _layer_names(page)
    assert {
        "CO2 posterior",
        LAYER_NAMES["units"],
        LAYER_NAMES["colocated"],
        LAYER_NAMES["stations"],
        LAYER_NAMES["province"],  # the Zhejiang outlines: the CLI's base map
    } <= set(names)
    assert page.count('"unit_code":') == len(small["inputs"].zoning.units)
    r2 = CliRunner().invoke(map_command, ["--run-dir", str(run)])
    assert r2.exit_code != 0  # exists, no --overwrite
    r3 = CliRunner().invoke(
        map_command, ["--run-dir", str(run), "--out", str(tmp_path / "c.html"), "--cdn"]
    )
    assert r3.exit_code == 0, r3.output
    assert external_references((tmp_path / "c.html").read_text(encoding="utf-8"))
    r4 = CliRunner().invoke(map_command, ["--run-dir", str(tmp_path / "nothing")])
    assert r4.exit_code != 0


def test_cli_draws_the_map_in_the_chosen_language(tmp_path, small):
    run = tmp_path / "run"
    write_run_folder(run, small["inputs"])
    zh = tmp_path / "zh.html"
    r = CliRunner().invoke(map_command, ["--run-dir", str(run), "--out", str(zh), "--lang", "zh"])
    assert r.exit_code == 0, r.output
    names = set(_layer_names(zh.read_text(encoding="utf-8")))
    assert set(layer_names(DEFAULT_SPECIES, "zh").values()) <= names
    assert LAYER_NAMES["units"] not in names


def test_cli_opens_only_the_registered_file_names(tmp_path, small):
    """Units, hotspots and stations under other names than the run's are not picked up."""
    inputs = small["inputs"]
    run = tmp_path / "run"
    run.mkdir()
    inputs.prior.to_netcdf(run / "prior.nc")
    inputs.zoning.units.to_file(run / "zones.gpkg", layer="control_units")
    inputs.zoning.hotspots["day"].to_netcdf(run / "hotspots.nc")
    write_csv(inputs.stations, run / "stations.csv")
    r = CliRunner().invoke(map_command, ["--run-dir", str(run)])
    assert r.exit_code == 0, r.output
    assert "prior;" in r.output
    names = _layer_names((run / "map.html").read_text(encoding="utf-8"))
    assert "CO2 prior" in names
    assert not {LAYER_NAMES[k] for k in ("units", "colocated", "stations")} & set(names)


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
    n_units = len(default_map["inputs"].zoning.units)
    assert page.count('"unit_code":') == n_units
    prov = json.loads(re.search(r'id="gridcarbon-provenance">(.*?)</script>', page).group(1))
    assert prov["synthetic"] == "true"
