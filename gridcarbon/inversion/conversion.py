"""Unit conversion of observations, with pint.

Each observed quantity has a canonical unit (:class:`Quantity`, from the ``observed_as``,
``observed_unit`` and ``observed_molar_mass_g_mol`` of a :class:`~gridcarbon.species.Species`):
the built-in species are observed in ppm (µmol/mol), ppb (nmol/mol) and ppbC (nmol of carbon per
mol of air).  Mass concentrations (µg/m³, mg/m³) are converted with the molar volume of the
**reference state in force on the observation date**: China's ambient standard GB 3095-2012
reported gases at 273.15 K, 101.325 kPa until its 2018 amendment (Ministry of Ecology and
Environment announcement 2018 No. 29) moved them to 298.15 K, 101.325 kPa from **2018-09-01**
(Beijing date).  A carbon mixing ratio (ppbC) is converted with a molar mass per carbon atom,
given with each conversion (``chemistry.voc_molar_mass_per_carbon``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pint

from gridcarbon.config.inversion import EXTRA_OBSERVED_QUANTITIES
from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.species import DEFAULT_SPECIES, Species

__all__ = [
    "ureg",
    "Quantity",
    "observed_quantities",
    "resolve_quantity",
    "PER_CARBON_UNITS",
    "REFERENCE_STATE_CHANGE",
    "reference_temperature",
    "to_canonical",
    "mass_to_mixing_factor",
    "model_conversion_factor",
    "ambient_conversion_factor",
    "standard_atmosphere_pressure_pa",
    "hypsometric_pressure_pa",
    "inlet_pressure_pa",
    "normalise_unit",
    "unit_factor",
]

ureg = pint.UnitRegistry()
ureg.define("ppb = 1e-9 = parts_per_billion")
ureg.define("ppt = 1e-12 = parts_per_trillion")

#: Canonical units that count carbon atoms: converted with a molar mass per carbon atom.
PER_CARBON_UNITS: tuple[str, ...] = ("ppbC",)

#: Mixing-ratio units a quantity of a mixing-ratio canonical unit may also be given in.
_MIXING_RATIOS = ("ppm", "ppb")
_MASS_UNITS = ("ug/m3", "mg/m3")


@dataclass(frozen=True)
class Quantity:
    """A quantity stations measure.

    Attributes
    ----------
    name : str
        As written in station and observation tables (the ``observed_as`` of a species).
    unit : str
        Its canonical unit (ppm, ppb, ppbC).
    molar_mass_g_mol : float or None
        For mass concentrations; None for a carbon mixing ratio (the molar mass per carbon
        atom is given with each conversion) or when no molar mass is known (mass
        concentrations are then refused).
    """

    name: str
    unit: str
    molar_mass_g_mol: float | None

    @property
    def per_carbon(self) -> bool:
        """Whether the canonical unit counts carbon atoms (ppbC)."""
        return self.unit in PER_CARBON_UNITS

    def units(self) -> tuple[str, ...]:
        """The units an observation of this quantity may be given in, canonical first."""
        if self.per_carbon:
            return (self.unit, *_MASS_UNITS)
        return (self.unit, *(u for u in _MIXING_RATIOS if u != self.unit), *_MASS_UNITS)

    def molar_mass(self, molar_mass_per_carbon: float) -> float:
        """g/mol for mass concentrations (per carbon atom for a carbon mixing ratio)."""
        if self.per_carbon:
            return float(molar_mass_per_carbon)
        if self.molar_mass_g_mol is None:
            raise InputDataError(
                f"{self.name} has no molar mass, so mass concentrations of it cannot be "
                f"converted to {self.unit}; give it in {self.unit} (or define the species with "
                "observed_molar_mass_g_mol)"
            )
        return float(self.molar_mass_g_mol)


def _of_species(s: Species) -> Quantity:
    unit = normalise_unit(s.observed_unit)
    if unit is None:
        raise ConfigError(
            f"species {s.name}: observed_unit {s.observed_unit!r} is not a unit gridcarbon "
            "converts (ppm, ppb, ppbC)"
        )
    return Quantity(s.observed_as, unit, s.observed_molar_mass_g_mol)


def observed_quantities(species: Iterable[Species] = (), extra: bool = True) -> dict[str, Quantity]:
    """The quantities stations may report: those of the built-in species, of ``species`` and,
    with ``extra``, the other quantities regulatory stations report
    (:data:`gridcarbon.config.inversion.EXTRA_OBSERVED_QUANTITIES`), by name."""
    out: dict[str, Quantity] = {}
    for s in (*DEFAULT_SPECIES, *species):
        out.setdefault(s.observed_as, _of_species(s))
    if extra:
        for name, (unit, molar_mass) in EXTRA_OBSERVED_QUANTITIES.items():
            out.setdefault(name, Quantity(name, unit, molar_mass))
    return out


def resolve_quantity(quantity: str | Quantity) -> Quantity:
    """A :class:`Quantity` from its name (built-in or extra), or the value itself."""
    if isinstance(quantity, Quantity):
        return quantity
    known = observed_quantities()
    if quantity not in known:
        raise InputDataError(
            f"unknown observed quantity {quantity!r}; known: {', '.join(known)} (other "
            "species' quantities come with their Species)"
        )
    return known[quantity]


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
    species: str | Quantity,
    beijing_dates: pd.Series | np.ndarray,
    voc_molar_mass_per_carbon: float = 14.0,
) -> np.ndarray:
    """Convert observed values of one quantity and unit to its canonical unit.

    Parameters
    ----------
    values : array
        Observed values.
    unit : str
        Their unit (ppm, ppb, ppbC, µg/m³, mg/m³ and common spellings).
    species : str or Quantity
        The observed quantity (a name of :func:`observed_quantities`, or the value).
    beijing_dates : array of dates
        Beijing calendar date of each value (selects the reference state of mass units).
    voc_molar_mass_per_carbon : float
        Mass per mole of carbon, g/mol, for µg/m³ → ppbC.
    """
    q = resolve_quantity(species)
    u = normalise_unit(unit)
    if u is None:
        raise InputDataError(
            f"unknown unit {unit!r} for {q.name}; use ppm, ppb, ppbC, ug/m3 or mg/m3"
        )
    v = np.asarray(values, dtype=np.float64)
    if u in _MIXING_RATIOS:
        if q.per_carbon:
            raise InputDataError(
                f"{q.name} given in {unit!r}: give it as {q.unit} (carbon mixing ratio) or as ug/m3"
            )
        return v * unit_factor(u, q.unit)
    if u in PER_CARBON_UNITS:
        if q.unit != u:
            raise InputDataError(f"unit {u} is only for carbon mixing ratios, not {q.name}")
        return v.copy()
    # mass concentration
    scale = unit_factor(u, "ug/m3")
    M = q.molar_mass(voc_molar_mass_per_carbon)
    tgt = _PINT_UNITS[q.unit]
    dates = pd.to_datetime(pd.Series(np.asarray(beijing_dates))).dt.date.to_numpy()
    temps = np.where(dates >= REFERENCE_STATE_CHANGE, 298.15, 273.15)
    f298 = mass_to_mixing_factor(M, 298.15, 101.325, tgt)
    f273 = mass_to_mixing_factor(M, 273.15, 101.325, tgt)
    return v * scale * np.where(temps == 298.15, f298, f273)


def model_conversion_factor(
    species: Species, molar_mass_per_carbon: float, temperature_K: float, pressure_kPa: float
) -> float:
    """Observation units (the canonical unit of what stations measure of ``species``) per
    µg/m³ of it, at the model's reference state (``chemistry.model_temperature_K``,
    ``model_pressure_kPa``)."""
    q = _of_species(species)
    try:
        M = q.molar_mass(molar_mass_per_carbon)
    except InputDataError:
        raise ConfigError(
            f"species {species.name} has no observed_molar_mass_g_mol, so modelled mass "
            f"concentrations of it cannot be compared with {q.unit}; define it"
        ) from None
    return mass_to_mixing_factor(M, temperature_K, pressure_kPa, _PINT_UNITS[q.unit])


# -- the model's conversion at ambient temperature and pressure -----------------------------------

#: Sea-level pressure (Pa), temperature (K) and tropospheric lapse rate (K/m) of the ICAO / US
#: 1976 standard atmosphere; standard gravity (m/s²) and the gas constant of dry air (J/(kg K)).
STANDARD_PRESSURE_PA = 101325.0
STANDARD_TEMPERATURE_K = 288.15
STANDARD_LAPSE_RATE_K_M = 0.0065
GRAVITY_M_S2 = 9.80665
DRY_AIR_GAS_CONSTANT = 287.05


def standard_atmosphere_pressure_pa(elevation_m: np.ndarray | float) -> np.ndarray:
    """Pressure (Pa) of the standard atmosphere at ``elevation_m`` (m above sea level,
    troposphere, up to 11 km): ``p0 (1 − Γ z / T0)^(g / (R_d Γ))`` — 84.6 kPa at 1,500 m."""
    z = np.asarray(elevation_m, dtype=np.float64)
    if np.any(~np.isfinite(z)) or np.any(z < -500.0) or np.any(z > 11000.0):
        raise InputDataError(
            f"elevation {z.min()}..{z.max()} m is outside the troposphere's -500..11000 m"
        )
    exponent = GRAVITY_M_S2 / (DRY_AIR_GAS_CONSTANT * STANDARD_LAPSE_RATE_K_M)
    return STANDARD_PRESSURE_PA * (1.0 - STANDARD_LAPSE_RATE_K_M * z / STANDARD_TEMPERATURE_K) ** (
        exponent
    )


def hypsometric_pressure_pa(
    surface_pressure_pa: np.ndarray | float,
    temperature_K: np.ndarray | float,
    height_m: np.ndarray | float,
) -> np.ndarray:
    """Pressure (Pa) ``height_m`` above a surface at ``surface_pressure_pa`` (hypsometric
    equation, ``p = p_s exp(−g h / (R_d T̄))`` with the layer's mean temperature ``T̄`` from the
    surface temperature and the standard lapse rate): the pressure at an inlet from ERA5's
    surface pressure ``sp`` and 2 m temperature ``t2m``.  About −0.6 % per 50 m."""
    ps = np.asarray(surface_pressure_pa, dtype=np.float64)
    t = np.asarray(temperature_K, dtype=np.float64)
    h = np.asarray(height_m, dtype=np.float64)
    mean_t = t - 0.5 * STANDARD_LAPSE_RATE_K_M * h
    return ps * np.exp(-GRAVITY_M_S2 * h / (DRY_AIR_GAS_CONSTANT * mean_t))


def inlet_pressure_pa(
    temperature_K: np.ndarray | float,
    inlet_height_m: np.ndarray | float,
    surface_pressure_pa: np.ndarray | float | None = None,
    elevation_m: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Air pressure (Pa) at a station's inlet: the surface pressure (ERA5 ``sp``) carried up
    the inlet height hypsometrically; without a surface pressure, the standard atmosphere at
    the station's elevation plus the inlet height (m above sea level)."""
    if surface_pressure_pa is None:
        return standard_atmosphere_pressure_pa(
            np.asarray(elevation_m, dtype=np.float64) + np.asarray(inlet_height_m, np.float64)
        )
    return hypsometric_pressure_pa(surface_pressure_pa, temperature_K, inlet_height_m)


def ambient_conversion_factor(
    species: Species,
    molar_mass_per_carbon: float,
    temperature_K: np.ndarray | float,
    pressure_Pa: np.ndarray | float,
) -> np.ndarray:
    """Observation units per µg/m³ of ``species`` at the ambient temperature (K) and pressure
    (Pa) of each element: a mass concentration of the model is a mixing ratio only at the
    state of the air it is in, ``x = c R T / (M p)``.  At 278 K and 101.3 kPa it is 0.932 of
    the factor at 298.15 K / 101.325 kPa (the model's reference state), at 1,500 m (84.6 kPa,
    278 K) 1.117 of it."""
    t = np.asarray(temperature_K, dtype=np.float64)
    p = np.asarray(pressure_Pa, dtype=np.float64)
    if np.any(~(t > 150.0)) or np.any(~(t < 350.0)):
        raise InputDataError(f"air temperature {t.min()}..{t.max()} K is not in 150..350 K")
    if np.any(~(p > 20_000.0)) or np.any(~(p < 110_000.0)):
        raise InputDataError(f"air pressure {p.min()}..{p.max()} Pa is not in 20..110 kPa")
    ref = model_conversion_factor(species, molar_mass_per_carbon, 298.15, 101.325)
    return ref * (t / 298.15) * (101325.0 / p)
