"""``gridcarbon synergy …``: the synergy analytics on the command line.

Thin: each subcommand reads its tables (``gridcarbon.io.synergy_files``), calls the analytics and
writes CSV/Excel (formula-safe), an HTML section and, for peaks, an SVG plot. Every output is
labelled 非官方测算 (unofficial calculation).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gridcarbon.cli.options import out_option, overwrite_option
from gridcarbon.errors import InputDataError
from gridcarbon.species import CO2

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["synergy"]

_out_dir = out_option(
    "Output folder (default: ./gridcarbon-output); files already there are kept, and "
    "replaced only with --overwrite.",
    dest="out_dir",
    default_folder=True,
)
_overwrite = overwrite_option
_run = click.option(
    "--run",
    "run_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A folder written by `gridcarbon run` (needs the inversion and zoning outputs).",
)


@click.group()
def synergy() -> None:
    """Pollution–carbon synergy analytics (unofficial calculations, 非官方测算)."""


def _write_outputs(
    out_dir: Path,
    stem: str,
    sheets: dict[str, pd.DataFrame],
    overwrite: bool,
    settings: dict,
    html: str | None = None,
    extra: tuple[str, ...] = (),
) -> list[Path]:
    """Write the sheets (one workbook + one CSV each) and the HTML page, all or none
    (:func:`gridcarbon.io.runfolder.output_set`); ``extra`` names the caller's further files,
    checked for existence with the others before anything is written."""
    import pandas as pd

    from gridcarbon.contracts import Document
    from gridcarbon.io.outputs import write_documents
    from gridcarbon.io.runfolder import check_output_set, output_set
    from gridcarbon.synergy.index import UNOFFICIAL_LABEL

    meta = pd.DataFrame(
        {"key": ["label", *settings], "value": [UNOFFICIAL_LABEL, *map(_text, settings.values())]}
    )
    documents = {f"{stem}.xlsx": Document("xlsx", {**sheets, "settings": meta})}
    for name, df in sheets.items():
        documents[f"{stem}_{name}.csv"] = Document("csv", df.reset_index() if df.index.name else df)
    if html is not None:
        documents[f"{stem}.html"] = Document("html", _page(html))
    check_output_set(out_dir, [*documents, *extra], overwrite)
    with output_set(out_dir, list(documents), overwrite) as tmp:
        write_documents(documents, tmp)
    return [out_dir / name for name in documents]


def _text(v: object) -> str:
    return json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, (dict, list)) else str(v)


def _page(fragment: str) -> str:
    return (
        '<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8">'
        "<title>gridcarbon synergy</title><style>body{font-family:sans-serif;margin:2em}"
        "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;"
        "padding:2px 6px}</style></head><body>" + fragment + "</body></html>"
    )


def _report(paths: list[Path]) -> None:
    for p in paths:
        click.echo(str(p))


@synergy.command("template")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_overwrite
def template_cmd(path: Path, overwrite: bool) -> None:
    """Write an empty indicator-values table (CSV or .xlsx) with Chinese and English headers."""
    from gridcarbon.io.synergy_files import write_template
    from gridcarbon.synergy.index import load_indicator_system

    click.echo(str(write_template(path, load_indicator_system().table, overwrite)))


@synergy.command("index")
@click.argument("values", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_out_dir
@click.option("--method", type=click.Choice(["efficacy", "minmax", "target"]), default="efficacy")
@click.option(
    "--bounds",
    type=click.Choice(["cross_section", "base_period", "fixed"]),
    default="cross_section",
)
@click.option("--bounds-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--base-period", default=None, help="YYYYQn; default the earliest period.")
@click.option("--renormalise", is_flag=True, help="Score regions with missing indicators.")
@click.option(
    "--state-scores",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV/Excel: state, achievement (0–1) per Tapio state for indicator 8; default table "
    "in docs/synergy.md.",
)
@_run
@click.option(
    "--allow-synthetic",
    is_flag=True,
    help="With --run: compute the model's CO2 per unit GDP on synthetic grids too.",
)
@_overwrite
def index_cmd(
    values,
    out_dir,
    method,
    bounds,
    bounds_file,
    base_period,
    renormalise,
    state_scores,
    run_dir,
    allow_synthetic,
    overwrite,
):
    """Compute the synergy index from a table of indicator values (CSV/Excel).

    With --run, gridcarbon's own CO2 per unit GDP (模型测算, from the run's posterior and the
    shipped GDP at constant 2020 prices) is written beside the official indicator 5; it never
    enters the index.
    """
    from gridcarbon.io.synergy_files import read_bounds, read_indicator_values, read_table
    from gridcarbon.synergy.index import load_indicator_system, provenance_sheet, synergy_index
    from gridcarbon.synergy.sections import html_fragment

    system = load_indicator_system()
    table = read_indicator_values(values, system.table)
    fixed = read_bounds(bounds_file) if bounds_file else None
    states = None
    if state_scores is not None:
        st = read_table(state_scores)
        if not {"state", "achievement"} <= set(st.columns):
            raise InputDataError(f"{state_scores.name}: needs columns state, achievement")
        states = {
            str(k).strip(): float(v) for k, v in zip(st["state"], st["achievement"], strict=True)
        }
    res = synergy_index(
        table,
        system,
        method=method,
        bounds=bounds,
        base_period=base_period,
        fixed_bounds=fixed,
        renormalise=renormalise,
        state_scores=states,
    )
    sheets = {
        "scores": res.scores,
        "indicator_scores": res.indicator_scores,
        "bounds": res.bounds,
        "provenance": provenance_sheet(table),
    }
    notes = [f"normalisation {method}, bounds {bounds}, base period {res.settings['base_period']}"]
    settings = dict(res.settings)
    if run_dir is not None:
        model = _model_values(run_dir, res.indicator_scores, allow_synthetic)
        sheets["model_values"] = model
        unverified = model.loc[model["gdp_note"] != "", "gdp_note"]
        if len(unverified):  # the model values rest on unverified GDP figures: said everywhere
            notes.append(f"model values (模型测算): {unverified.iloc[0]}")
            settings["model_values_gdp"] = unverified.iloc[0]
    html = html_fragment(
        "减污降碳协同指数 synergy index",
        {
            "scores": res.scores[
                ["region_code", "region_name", "period", "total", "rank", "change_vs_base"]
            ]
        },
        notes=notes,
    )
    _report(_write_outputs(out_dir, "synergy_index", sheets, overwrite, settings, html))


def _model_values(run_dir: Path, indicator_scores: pd.DataFrame, allow_synthetic: bool):
    """The model's CO2 per unit GDP beside the official indicator 5 of the same year."""
    import numpy as np

    from gridcarbon.io.synergy_files import load_shipped_gdp, read_run_city_totals, run_is_synthetic
    from gridcarbon.species import CO2
    from gridcarbon.synergy.decoupling import (
        UNVERIFIED_GDP_NOTE,
        constant_price_gdp,
        gdp_verification,
        model_carbon_intensity,
        run_year,
    )

    city, first, last = read_run_city_totals(run_dir, CO2.name)
    city = city.rename(columns={"total_t": "co2_t"})
    year = run_year(first, last)
    shipped = load_shipped_gdp()
    gdp = constant_price_gdp(shipped, 2020)[["region_code", "year", "gdp_const"]]
    model = model_carbon_intensity(
        city.assign(year=year), gdp, run_is_synthetic(run_dir), allow_synthetic
    )
    verified = gdp_verification(shipped, 2020, year)
    model["gdp_verified"] = model["region_code"].astype(str).map(verified).fillna("no")
    model["gdp_note"] = np.where(model["gdp_verified"] == "yes", "", UNVERIFIED_GDP_NOTE)
    official = indicator_scores[
        (indicator_scores["level3_no"] == 5) & (indicator_scores["period"] == f"{year}Q4")
    ][["region_code", "value"]].rename(columns={"value": "official_t_per_10k_yuan"})
    out = model.merge(official, on="region_code", how="left")
    out["note"] = (
        f"model: direct emissions inside the region; official: energy {CO2.name} including "
        "imported electricity — not comparable one to one"
    )
    return out


@synergy.command("decoupling")
@click.argument("emissions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--base-year", type=int, required=True)
@click.option("--year", type=int, required=True)
@click.option(
    "--gdp",
    "gdp_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="region_code, year, gdp_100m_yuan (亿元), real_growth_pct; default: the shipped 11 "
    "cities and province 2020–2022.",
)
@_out_dir
@_overwrite
def decoupling_cmd(emissions, base_year, year, gdp_path, out_dir, overwrite):
    """Tapio decoupling of emissions (region_code, year, emissions) from GDP at constant prices."""
    import numpy as np
    import pandas as pd

    from gridcarbon.io.synergy_files import load_shipped_gdp, read_table
    from gridcarbon.synergy.decoupling import (
        UNVERIFIED_GDP_NOTE,
        check_gdp_magnitude,
        constant_price_gdp,
        gdp_verification,
        tapio_table,
    )

    em = read_table(emissions, dtype={"region_code": str})
    if gdp_path is None:
        gdp = load_shipped_gdp()
    else:
        gdp = read_table(gdp_path, dtype={"region_code": str})
        check_gdp_magnitude(
            gdp["gdp_100m_yuan"],
            pd.Series([f"{gdp_path.name}, line {i + 2}" for i in range(len(gdp))]),
        )
    first_year = int(min(base_year, gdp["year"].min()))
    const = constant_price_gdp(gdp, first_year)
    table = tapio_table(em, const, base_year, year)
    verified = gdp_verification(gdp, first_year, year)
    table["gdp_verified"] = table["region_code"].astype(str).map(verified).fillna("no")
    settings = {"base_year": base_year, "year": year, "gdp_price_base": first_year}
    if (table["gdp_verified"] == "no").any():
        table["gdp_note"] = np.where(table["gdp_verified"] == "no", UNVERIFIED_GDP_NOTE, "")
        settings["gdp"] = UNVERIFIED_GDP_NOTE
    _report(_write_outputs(out_dir, "synergy_decoupling", {"tapio": table}, overwrite, settings))


@synergy.command("cocontrol")
@_run
@click.option(
    "--base-run",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A run of the base period or scenario on the same units: adds reduction rates, "
    "elasticities and quadrants.",
)
@click.option("--level", type=click.Choice(["unit", "county", "city"]), default="unit")
@_out_dir
@_overwrite
def cocontrol_cmd(run_dir, base_run, level, out_dir, overwrite):
    """Co-control analysis of a run: distribution, trend, correlation (and change vs a base)."""
    from gridcarbon.synergy.sections import cocontrol_analysis, html_fragment
    from gridcarbon.synergy.unit_series import read_unit_daily

    if run_dir is None:
        raise InputDataError("give --run DIR (a folder written by `gridcarbon run`)")
    series = read_unit_daily(run_dir)
    base = None
    if base_run is not None:
        other = read_unit_daily(base_run)
        if not other.units["unit_code"].equals(series.units["unit_code"]):
            raise InputDataError("--base-run has other control units than --run")
        base = other.posterior
    tables = cocontrol_analysis(
        series.units, series.days, series.prior, series.posterior, level, base_posterior=base
    )
    flagged = tables["correlation"][tables["correlation"]["priority"]]
    html = html_fragment(
        "协同控制分析 co-control analysis",
        {"priorities (Spearman ρ ≥ 0.6, q ≤ 0.05)": flagged, **tables},
        synthetic=series.synthetic,
        notes=[f"level {level}; trend on {tables['trend'].attrs['resolution']} series"],
    )
    settings = {"level": level, "run": str(run_dir), "synthetic": series.synthetic}
    _report(_write_outputs(out_dir, "synergy_cocontrol", tables, overwrite, settings, html))


def _indicators(text: str | None) -> dict[str, str]:
    out = {}
    for part in (text or "").split(","):
        if part.strip():
            name, _, sign = part.strip().rpartition(":")
            if sign not in ("+", "-") or not name:
                raise InputDataError(f"--indicators item {part!r} is not COLUMN:+ or COLUMN:-")
            out[name] = sign
    return out


@synergy.command("allocate")
@click.argument("table_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cap", type=float, required=True, help="The CO2 cap in whole tonnes.")
@click.option("--method", type=click.Choice(["historical", "benchmark", "entropy"]), required=True)
@click.option("--id-column", default="entity", help="Column naming the entities.")
@click.option("--base-column", default="base_t")
@click.option("--activity-column", default="activity")
@click.option("--benchmark-column", default="benchmark_t_per_unit")
@click.option("--indicators", default=None, help="Entropy method: COLUMN:+,COLUMN:- …")
@click.option(
    "--posterior-column",
    default=None,
    help="A column with each entity's posterior emissions (t) for the carbon account.",
)
@_run
@click.option(
    "--level",
    type=click.Choice(["facility", "unit", "county", "city"]),
    default=None,
    help="With --run: the entities are stacks (point_id), units or county/city codes; their "
    "posterior CO2 over the run gives the carbon account.",
)
@_out_dir
@_overwrite
def allocate_cmd(
    table_path,
    cap,
    method,
    id_column,
    base_column,
    activity_column,
    benchmark_column,
    indicators,
    posterior_column,
    run_dir,
    level,
    out_dir,
    overwrite,
):
    """Allocate a CO2 cap to the entities of a table (whole tonnes summing to the cap)."""
    from gridcarbon.io.synergy_files import read_entity_table
    from gridcarbon.synergy.allocation import allocate, carbon_account

    table = read_entity_table(table_path, id_column)
    alloc = allocate(
        table,
        cap,
        method,
        base=base_column,
        activity=activity_column,
        benchmark=benchmark_column,
        indicators=_indicators(indicators),
    )
    result = alloc.table
    if posterior_column and run_dir is not None:
        raise InputDataError("give either --posterior-column or --run, not both")
    if posterior_column:
        import pandas as pd

        result = carbon_account(alloc, pd.to_numeric(table[posterior_column], errors="coerce"))
    elif run_dir is not None:
        from gridcarbon.io.synergy_files import read_run_posterior_totals
        from gridcarbon.species import CO2

        if level is None:
            raise InputDataError("--run needs --level (facility, unit, county or city)")
        result = carbon_account(alloc, read_run_posterior_totals(run_dir, level, CO2.name))
    sheets = {"allocation": result}
    if alloc.weights is not None:
        sheets["entropy_weights"] = alloc.weights.to_frame()
    settings = {"method": method, "cap_t": alloc.cap_t}
    _report(_write_outputs(out_dir, "synergy_allocation", sheets, overwrite, settings))


@synergy.command("rating")
@_run
@click.option(
    "--facilities",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Facility table (facility_id, name, industry, output_10k_yuan, CO2_t, NOx_t, VOC_t, "
    "…); default: the run's point sources with synthetic attributes.",
)
@click.option(
    "--thresholds",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="industry, indicator, green, red; default: terciles within each industry.",
)
@click.option("--anonymise", is_flag=True, help="Hide enterprise names in every output.")
@_out_dir
@_overwrite
def rating_cmd(run_dir, facilities, thresholds, anonymise, out_dir, overwrite):
    """Red/yellow/green rating of enterprises on reduction, decarbonisation, synergy, efficiency."""
    from gridcarbon.io.synergy_files import (
        read_facility_table,
        read_run_point_sources,
        read_table,
        run_is_synthetic,
    )
    from gridcarbon.synergy.rating import (
        anonymise as hide,
    )
    from gridcarbon.synergy.rating import (
        facility_indicators,
        rate_facilities,
        synthetic_facility_attributes,
        tercile_thresholds,
    )
    from gridcarbon.synergy.sections import html_fragment, rating_features

    notes = []
    locations = None
    if facilities is not None:
        table = read_facility_table(facilities)
        synthetic = False
        if {"lon", "lat"} <= set(table.columns):
            locations = table[["facility_id", "lon", "lat"]]
    elif run_dir is not None:
        points = read_run_point_sources(run_dir)
        table = synthetic_facility_attributes(points)
        synthetic = True
        locations = points.rename(
            columns={"point_id": "facility_id", "point_lon": "lon", "point_lat": "lat"}
        )[["facility_id", "lon", "lat"]]
        notes.append(
            "facility attributes (output value, energy mix, solid waste, tax, land) are "
            "SYNTHETIC, made for the synthetic facility catalogue"
        )
        synthetic = synthetic or run_is_synthetic(run_dir)
    else:
        raise InputDataError("give --facilities FILE or --run DIR")
    ind = facility_indicators(table)
    if thresholds is not None:
        th = read_table(thresholds)
    else:
        th = tercile_thresholds(ind)
        notes.append("thresholds: terciles within each industry (relative to peers)")
    rated = rate_facilities(ind, th)
    features = rating_features(rated, locations, anonymise) if locations is not None else None
    if anonymise:
        rated = hide(rated)
    html = html_fragment(
        "企业红黄绿评价 enterprise rating",
        {
            "rating": rated[
                [
                    "industry",
                    "name",
                    "score",
                    "rating",
                    "colour_reduction",
                    "colour_decarbonisation",
                    "colour_synergy",
                    "colour_efficiency",
                ]
            ]
        },
        synthetic=synthetic,
        notes=notes,
    )
    settings = {"anonymised": anonymise, "synthetic": synthetic, "notes": notes}
    paths = _write_outputs(
        out_dir,
        "synergy_rating",
        {"rating": rated, "thresholds": th},
        overwrite,
        settings,
        html,
        extra=("synergy_rating.geojson",) if features is not None else (),
    )
    if features is not None:
        from gridcarbon.io.runfolder import atomic_path

        with atomic_path(out_dir / "synergy_rating.geojson", overwrite) as tmp:
            tmp.write_text(json.dumps(features, ensure_ascii=False), encoding="utf-8")
        paths.append(out_dir / "synergy_rating.geojson")
    _report(paths)


@synergy.command("crosscheck")
@_run
@click.option(
    "--reported",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Reported figures independent of the prior: id, species, reported, reported_std (t "
    "over the run period). Without it the prior is taken as the reported figure.",
)
@_out_dir
@_overwrite
def crosscheck_cmd(run_dir, reported, out_dir, overwrite):
    """Cross-check reported stack emissions against the run's posterior."""
    from gridcarbon.config.synergy import CrosscheckSettings
    from gridcarbon.io.synergy_files import (
        read_inversion_solver,
        read_point_crosscheck,
        read_station_evidence,
        read_table,
        run_is_synthetic,
    )
    from gridcarbon.synergy.crosscheck import crosscheck, evidence
    from gridcarbon.synergy.sections import html_fragment

    if run_dir is None:
        raise InputDataError("give --run DIR (a folder written by `gridcarbon run`)")
    s = CrosscheckSettings()
    table = read_point_crosscheck(run_dir)
    if reported is not None:
        rep = read_table(reported, dtype={"id": str})
        table = table.merge(
            rep[["id", "species", "reported", "reported_std"]], on=["id", "species"], how="left"
        )
    solver = read_inversion_solver(run_dir)
    exact = solver == "dense"
    out = crosscheck(table, s.min_uncertainty_reduction, s.q_max, exact_posterior=exact)
    flags = out[out["flag"]]
    series, stations = read_station_evidence(run_dir)
    ev = evidence(flags, series, stations, s.evidence_radius_km, s.evidence_hours)
    synthetic = run_is_synthetic(run_dir)
    notes = []
    if not exact:
        notes.append(
            f"the inversion used the {solver} solver, whose posterior σ is approximate "
            "(Lanczos): it misses part of the variance reduction, so the test with the prior as "
            "the reported figure (σ_b² − σ_post² in its denominator) would flag honest stacks "
            "(benchmarks/crosscheck_diagnosis.py). Those are not tested; give independent "
            "reported figures (--reported) or invert with the dense solver"
        )
    out["solver"] = solver
    html = html_fragment(
        "排放核验 top-down cross-check",
        {"flags": flags, "evidence": ev},
        synthetic=synthetic,
        notes=notes
        + [
            f"{int((~out['test'].str.startswith('not')).sum())} of {len(out)} stack-species "
            "tested (uncertainty reduction ≥ 20 %); evidence = nearby stations' hours with the "
            "largest posterior − prior model change (the run folder holds no gain matrix)"
        ],
    )
    settings = {"run": str(run_dir), "synthetic": synthetic, "solver": solver, **s.model_dump()}
    _report(
        _write_outputs(
            out_dir,
            "synergy_crosscheck",
            {"crosscheck": out, "evidence": ev},
            overwrite,
            settings,
            html,
        )
    )


@synergy.command("peak")
@click.argument("spec_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--draws", type=int, default=1000, help="Monte Carlo draws (0 = no band).")
@click.option("--seed", type=int, default=20240)
@_out_dir
@_overwrite
def peak_cmd(spec_path, draws, seed, out_dir, overwrite):
    """Carbon-peak scenarios (Kaya identity) from a YAML/CSV spec, with a band and an SVG plot."""
    from gridcarbon.io.runfolder import atomic_path
    from gridcarbon.io.synergy_files import read_peak_spec
    from gridcarbon.synergy.peak import peak_svg, project_scenarios
    from gridcarbon.synergy.sections import html_fragment

    spec = read_peak_spec(spec_path)
    traj, peaks = project_scenarios(spec, n_draws=draws, seed=seed)
    svg = peak_svg(traj, peaks)
    html = html_fragment(
        "碳达峰情景 peak scenarios", {"peaks": peaks}, figures={f"{CO2.name} (Mt)": svg}
    )
    settings = {"spec": str(spec_path), "draws": draws, "seed": seed}
    paths = _write_outputs(
        out_dir,
        "synergy_peak",
        {"trajectories": traj, "peaks": peaks},
        overwrite,
        settings,
        html,
        extra=("synergy_peak.svg",),
    )
    with atomic_path(out_dir / "synergy_peak.svg", overwrite) as tmp:
        tmp.write_text(svg, encoding="utf-8")
    paths.append(out_dir / "synergy_peak.svg")
    _report(paths)
