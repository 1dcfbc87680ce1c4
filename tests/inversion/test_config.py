"""The inversion section of the configuration: its sub-sections and the refusal of flat keys."""

import pytest

from gridcarbon.config import RunConfig
from gridcarbon.config.inversion import MOVED_KEYS, InversionConfig
from gridcarbon.errors import ConfigError


def test_settings_grouped_with_their_defaults():
    c = InversionConfig()
    assert c.state.block_cells == 3 and c.state.window_hours == 24
    assert c.errors.aggregation == "afternoon_mean" and c.errors.point_dominance_max == 0.5
    assert c.transport.max_distance_km == 50.0 and c.transport.point_plume_direction_sd_deg == 30.0
    assert c.chemistry.nox_lifetime_day_h == 4.0 and c.chemistry.voc_molar_mass_per_carbon == 14.0
    assert c.solver.method == "auto" and c.solver.negative_factors == "clip"
    # every setting of a sub-section is described
    for section in (c.state, c.errors, c.transport, c.chemistry, c.solver):
        for name, field in type(section).model_fields.items():
            assert field.description, name


@pytest.mark.parametrize(
    ("key", "value", "place"),
    [
        ("block_cells", 4, "inversion.state.block_cells"),
        ("measurement_error", {}, "inversion.errors.measurement_error"),
        ("subcells", 3, "inversion.transport.subcells"),
        ("nox_lifetime_day_h", 3.0, "inversion.chemistry.nox_lifetime_day_h"),
        ("solver", "cg", "inversion.solver.method"),
        ("cg_tol", 1e-5, "inversion.solver.cg_tol"),
    ],
)
def test_flat_keys_refused_naming_the_new_place(key, value, place):
    with pytest.raises(ConfigError) as err:
        RunConfig.validate_dict({"inversion": {key: value}})
    assert f"inversion.{key} has moved to {place}" in str(err.value)
    assert MOVED_KEYS[key] == place.removeprefix("inversion.")


def test_new_places_accepted_and_validated():
    c = RunConfig.validate_dict(
        {"inversion": {"state": {"block_cells": 4}, "solver": {"method": "cg"}}}
    ).inversion
    assert c.state.block_cells == 4 and c.solver.method == "cg"
    with pytest.raises(ConfigError, match="calm_exclude_m_s must not exceed calm_floor_m_s"):
        RunConfig.validate_dict({"inversion": {"transport": {"calm_exclude_m_s": 2.0}}})
    with pytest.raises(ConfigError, match=r"assimilation_hours_local\[CO2\] must be hours"):
        RunConfig.validate_dict(
            {"inversion": {"errors": {"assimilation_hours_local": {"CO2": [24]}}}}
        )
    with pytest.raises(ConfigError, match="unknown station class 'roof'"):
        RunConfig.validate_dict({"inversion": {"errors": {"measurement_error": {"roof": {}}}}})
    with pytest.raises(ConfigError, match="must name two species"):
        RunConfig.validate_dict({"inversion": {"state": {"species_correlation": {"CO2": 0.5}}}})
