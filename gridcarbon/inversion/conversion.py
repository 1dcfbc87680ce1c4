"""Unit conversion of observations, with pint.

Canonical observation units: CO2 in ppm (µmol/mol), NO2 in ppb (nmol/mol), VOC (NMVOC) in ppbC
(nmol of carbon per mol of air).  Mass concentrations (µg/m³, mg/m³) are converted with the molar
volume of the **reference state in force on the observation date**: China's ambient standard
GB 3095-2012 reported gases at 273.15 K, 101.325 kPa until its 2018 amendment (Ministry of
Ecology and Environment announcement 2018 No. 29) moved them to 298.15 K, 101.325 kPa from
**2018-09-01** (Beijing date).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd
import pint

from gridcarbon.errors import InputDataError

__all__ = [
    "ureg",
    "CANONICAL_UNITS",
    "MOLAR_MASS",
    "REFERENCE_STATE_CHANGE",
    "reference_temperature",
    "to_canonical",
    "mass_to_mixing_factor",
    "normalise_unit",
    "SPECIES_UNITS",
    "unit_factor",
]

ureg = pint.UnitRegistry()
ureg.define("ppb = 1e-9 = parts_per_billion")
ureg.define("ppt = 1e-12 = parts_per_trillion")

#: Canonical unit of each observed species.
CANONICAL_UNITS: dict[str, str] = {"CO2": "ppm", "NO2": "ppb", "VOC": "ppbC", "CO": "ppm"}

#: Molar masses, g/mol (VOC: per mole of carbon, set from the config).
MOLAR_MASS: dict[str, float] = {"CO2": 44.0095, "NO2": 46.0055, "CO": 28.0101}

#: Units an observation of each species may be given in (canonical spellings).
SPECIES_UNITS: dict[str, tuple[str, ...]] = {
    "CO2": ("ppm", "ppb", "ug/m3", "mg/m3"),
    "NO2": ("ppb", "ppm", "ug/m3", "mg/m3"),
    "CO": ("ppm", "ppb", "mg/m3", "ug/m3"),
    "VOC": ("ppbC", "ug/m3", "mg/m3"),
}

#: The pint expression of each canonical spelling (ppbC: a mixing ratio of carbon atoms).
_PINT_UNITS = {
    "ppm": "ppm",
    "ppb": "ppb",
    "ppbC": "ppb",
    "ug/m3": "microgram / meter ** 3",
    "mg/m3": "milligram / meter ** 3",
}

#: First Beijing date of the 298.15 K reference state.
REFERENCE_STATE_CHANGE = dt.date(2018, 9, 1)

_ALIASES = {
    "ppm": "ppm",
    "umol/mol": "ppm",
    "µmol/mol": "ppm",
    "μmol/mol": "ppm",
    "ppmv": "ppm",
    "ppb": "ppb",
    "nmol/mol": "ppb",
    "ppbv": "ppb",
    "ppbc": "ppbC",
    "ppbvc": "ppbC",
    "ug/m3": "ug/m3",
    "µg/m3": "ug/m3",
    "μg/m3": "ug/m3",
    "ug/m^3": "ug/m3",
    "µg/m³": "ug/m3",
    "μg/m³": "ug/m3",
    "ugm-3": "ug/m3",
    "mg/m3": "mg/m3",
    "mg/m³": "mg/m3",
    "mg/m^3": "mg/m3",
    "mgm-3": "mg/m3",
}


def normalise_unit(unit: str) -> str | None:
    """Canonical spelling of a unit string, or None when unknown."""
    return _ALIASES.get(str(unit).strip().lower().replace(" ", ""))


@lru_cache(maxsize=64)
def unit_factor(unit: str, target: str) -> float:
    """Factor from ``unit`` to ``target`` (canonical spellings of the same dimension, e.g.
    ``mg/m3`` -> ``ug/m3`` = 1000), from pint."""
    return float(ureg.Quantity(1.0, _PINT_UNITS[unit]).to(_PINT_UNITS[target]).magnitude)


def reference_temperature(date: dt.date | pd.Timestamp) -> float:
    """Reference temperature (K) of Chinese mass concentrations of gases on a Beijing date."""
    d = pd.Timestamp(date).date()
    return 298.15 if d >= REFERENCE_STATE_CHANGE else 273.15


@lru_cache(maxsize=64)
def mass_to_mixing_factor(
    molar_mass_g_mol: float,
    temperature_K: float,
    pressure_kPa: float = 101.325,
    target: str = "ppb",
) -> float:
    """Mixing ratio (in ``target``) per µg/m³ of a gas of the given molar mass at (T, p)."""
    c = ureg.Quantity(1.0, "microgram / meter**3")
    M = ureg.Quantity(molar_mass_g_mol, "gram / mole")
    vm = (
        ureg.molar_gas_constant
        * ureg.Quantity(temperature_K, "kelvin")
        / ureg.Quantity(pressure_kPa, "kilopascal")
    )
    return float((c / M * vm).to(target).magnitude)


def to_canonical(
    values: np.ndarray,
    unit: str,
    species: str,
    beijing_dates: pd.Series | np.ndarray,
    voc_molar_mass_per_carbon: float = 14.0,
) -> np.ndarray:
    """Convert observed values of one species and unit to the canonical unit.

    Parameters
    ----------
    values : array
        Observed values.
    unit : str
        Their unit (ppm, ppb, ppbC, µg/m³, mg/m³ and common spellings).
    species : {"CO2", "NO2", "VOC", "CO"}
    beijing_dates : array of dates
        Beijing calendar date of each value (selects the reference state of mass units).
    voc_molar_mass_per_carbon : float
        NMVOC mass per mole of carbon, g/mol, for µg/m³ → ppbC.
    """
    u = normalise_unit(unit)
    if u is None:
        raise InputDataError(
            f"unknown unit {unit!r} for {species}; use ppm, ppb, ppbC, ug/m3 or mg/m3"
        )
    target = CANONICAL_UNITS[species]
    v = np.asarray(values, dtype=np.float64)
    if u in ("ppm", "ppb"):
        if species == "VOC":
            raise InputDataError(
                f"VOC given in {unit!r}: give NMVOC as ppbC (carbon mixing ratio) or as ug/m3"
            )
        return v * unit_factor(u, target)
    if u == "ppbC":
        if species != "VOC":
            raise InputDataError(f"unit ppbC is only for VOC, not {species}")
        return v.copy()
    # mass concentration
    scale = unit_factor(u, "ug/m3")
    M = voc_molar_mass_per_carbon if species == "VOC" else MOLAR_MASS[species]
    tgt = "ppb" if target == "ppbC" else target
    dates = pd.to_datetime(pd.Series(np.asarray(beijing_dates))).dt.date.to_numpy()
    temps = np.where(dates >= REFERENCE_STATE_CHANGE, 298.15, 273.15)
    f298 = mass_to_mixing_factor(M, 298.15, 101.325, tgt)
    f273 = mass_to_mixing_factor(M, 273.15, 101.325, tgt)
    return v * scale * np.where(temps == 298.15, f298, f273)
