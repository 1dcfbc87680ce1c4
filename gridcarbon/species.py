"""The species gridcarbon models, as values.

A :class:`Species` carries everything the stages need to know about one emitted species: its
variable name in the grids, the mass it is expressed as, its molar mass, the canonical units of
its emissions and observations, its display names in English and Chinese, and its colour.  The
configuration and the scenario carry the species of a run as a tuple of these values; no stage
spells a species name out.  Species-specific *physics* (the NOx lifetime and NO2/NOx ratio,
which hours of CO2 are used, biogenic terms) are settings of the inversion keyed by name.

Adding a species means making one more :class:`Species` and giving the scenario its emissions:
every stage then carries it.

Light: standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gridcarbon.errors import ConfigError

__all__ = ["Species", "CO2", "NOX", "VOC", "DEFAULT_SPECIES", "resolve_species", "by_name"]


@dataclass(frozen=True)
class Species:
    """One emitted species.

    Parameters
    ----------
    name : str
        Variable name in the grids (``CO2``); also the column name in tables.  ASCII letters,
        digits and underscores.
    long_name : str
        What it is, in English (``carbon dioxide``).
    mass_as : str
        The mass its emissions are expressed as (``NO2`` for NOx, ``NMVOC`` for VOC).
    molar_mass_g_mol : float or None
        Molar mass of ``mass_as`` in g mol-1, or None for a mixture (NMVOC).
    observed_as : str
        The quantity stations measure for it (``NO2`` for NOx).
    observed_unit : str
        Canonical unit of those observations (``ppm``, ``ppb``, ``ppbC``).
    observed_molar_mass_g_mol : float or None
        Molar mass used to convert observed µg m-3 to a mixing ratio (None: set per run, e.g.
        the VOC molar mass per carbon atom of the source profile).
    display_en, display_zh : str
        Display names in reports and maps (``CO₂`` / ``二氧化碳``).
    colour : str
        ``#rrggbb`` colour of the species in charts.
    unit : str
        Canonical unit of the emission grids (``kg h-1`` per cell).
    emission_long_name : str
        What its emission is, in English, for the CF ``long_name`` of the grids (``nitrogen
        oxides emission (as NO2 mass)``); default: ``long_name`` followed by ``emission``.
    """

    name: str
    long_name: str
    mass_as: str
    molar_mass_g_mol: float | None
    observed_as: str
    observed_unit: str
    observed_molar_mass_g_mol: float | None
    display_en: str
    display_zh: str
    colour: str
    unit: str = "kg h-1"
    emission_long_name: str = ""

    def __post_init__(self) -> None:
        if not self.emission_long_name:
            object.__setattr__(self, "emission_long_name", f"{self.long_name} emission")
        if not self.name or not self.name.replace("_", "").isalnum() or not self.name.isascii():
            raise ConfigError(
                f"species name {self.name!r} must be ASCII letters, digits and underscores "
                "(it names variables and columns)"
            )
        if not (len(self.colour) == 7 and self.colour.startswith("#")):
            raise ConfigError(f"species {self.name}: colour {self.colour!r} is not #rrggbb")
        for what, m in (
            ("molar_mass_g_mol", self.molar_mass_g_mol),
            ("observed_molar_mass_g_mol", self.observed_molar_mass_g_mol),
        ):
            if m is not None and not m > 0:
                raise ConfigError(f"species {self.name}: {what} = {m!r} must be > 0")

    def display(self, language: str = "en") -> str:
        """The display name in ``language`` (``en`` or ``zh``)."""
        return self.display_zh if language == "zh" else self.display_en

    def to_dict(self) -> dict[str, object]:
        """Plain values (for configuration files and output metadata)."""
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


#: Carbon dioxide, kg CO2 per hour per cell; observed as CO2 in ppm.
CO2 = Species(
    name="CO2",
    long_name="carbon dioxide",
    mass_as="CO2",
    molar_mass_g_mol=44.0095,
    observed_as="CO2",
    observed_unit="ppm",
    observed_molar_mass_g_mol=44.0095,
    display_en="CO₂",
    display_zh="二氧化碳",
    colour="#4d4d4d",
)
#: Nitrogen oxides as NO2 mass; observed as NO2 in ppb.
NOX = Species(
    name="NOx",
    long_name="nitrogen oxides (as NO2 mass)",
    mass_as="NO2",
    molar_mass_g_mol=46.0055,
    observed_as="NO2",
    observed_unit="ppb",
    observed_molar_mass_g_mol=46.0055,
    display_en="NOx",
    display_zh="氮氧化物",
    colour="#d95f02",
    emission_long_name="nitrogen oxides emission (as NO2 mass)",
)
#: Non-methane volatile organic compounds (NMVOC mass); observed as total VOC in ppbC.
VOC = Species(
    name="VOC",
    long_name="non-methane volatile organic compounds (NMVOC mass)",
    mass_as="NMVOC",
    molar_mass_g_mol=None,
    observed_as="VOC",
    observed_unit="ppbC",
    observed_molar_mass_g_mol=None,
    display_en="VOCs",
    display_zh="挥发性有机物",
    colour="#1b9e77",
    emission_long_name="non-methane volatile organic compounds emission",
)

#: The species of the embedded default, in output order.
DEFAULT_SPECIES: tuple[Species, ...] = (CO2, NOX, VOC)


def by_name(species: Iterable[Species], name: str) -> Species:
    """The species called ``name`` among ``species``; ConfigError naming the known ones."""
    species = tuple(species)
    for s in species:
        if s.name == name:
            return s
    raise ConfigError(
        f"unknown species {name!r}; known species are {[s.name for s in species]} "
        "(add it to species_definitions in the configuration, or pass a gridcarbon.species.Species)"
    )


def resolve_species(
    items: Iterable[str | Species], known: Iterable[Species] = DEFAULT_SPECIES
) -> tuple[Species, ...]:
    """Species values from names (of ``known``) or values; duplicates refused."""
    known = tuple(known)
    out: list[Species] = []
    for item in items:
        sp = item if isinstance(item, Species) else by_name(known, str(item))
        if any(s.name == sp.name for s in out):
            raise ConfigError(f"species {sp.name!r} is given twice")
        out.append(sp)
    if not out:
        raise ConfigError("at least one species is needed")
    return tuple(out)
