"""Species as values: validation, resolution by name, and new species from the configuration."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from gridcarbon.config import RunConfig
from gridcarbon.errors import ConfigError
from gridcarbon.species import CO2, DEFAULT_SPECIES, NOX, Species, by_name, resolve_species

from .seams import SO2 as SO2_SPECIES

# the fourth species of the extension-seam tests, as a configuration gives it (its unit and
# emission long name left to their defaults)
SO2 = {
    k: v
    for k, v in dataclasses.asdict(SO2_SPECIES).items()
    if k not in ("unit", "emission_long_name")
}


def test_default_species_are_frozen_picklable_values():
    assert [s.name for s in DEFAULT_SPECIES] == ["CO2", "NOx", "VOC"]
    assert pickle.loads(pickle.dumps(DEFAULT_SPECIES)) == DEFAULT_SPECIES
    with pytest.raises(AttributeError):
        CO2.name = "C"  # type: ignore[misc]
    assert NOX.mass_as == "NO2" and NOX.display("zh") == "氮氧化物"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "S O2", "ASCII letters"),
        ("colour", "red", "#rrggbb"),
        ("molar_mass_g_mol", 0.0, "> 0"),
    ],
)
def test_bad_species_values_are_refused(field, value, message):
    with pytest.raises(ConfigError, match=message):
        Species(**{**SO2, field: value})


def test_resolution_by_name_keeps_order_and_refuses_unknown_and_twice():
    assert resolve_species(["VOC", "CO2"]) == (DEFAULT_SPECIES[2], CO2)
    with pytest.raises(ConfigError, match="unknown species 'SO2'.*species_definitions"):
        by_name(DEFAULT_SPECIES, "SO2")
    with pytest.raises(ConfigError, match="given twice"):
        resolve_species([CO2, "CO2"])


def test_a_new_species_comes_from_the_configuration():
    cfg = RunConfig.validate_dict({"species": ["CO2", "SO2"], "species_definitions": [SO2]})
    assert cfg.species_values() == (CO2, Species(**SO2))
    again = RunConfig.from_yaml(cfg.to_yaml())
    assert again.species_values() == cfg.species_values()
    with pytest.raises(ConfigError, match="unknown species 'SO2'"):
        RunConfig.validate_dict({"species": ["SO2"]})
