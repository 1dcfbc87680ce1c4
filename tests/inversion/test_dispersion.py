"""Dispersion coefficients, stability classes and plume rise against their references."""

import numpy as np
import pytest

from gridcarbon.inversion.dispersion import (
    briggs_rise,
    sigma_y_rural,
    sigma_y_urban,
    sigma_z_rural,
    sigma_z_urban,
    sun_elevation,
    turner_class,
)


@pytest.mark.parametrize(
    ("cls", "x_m", "sy", "sz"),
    [
        # ISC3 user's guide vol. II (EPA-454/B-95-003b), eqs. 1-34/1-35, tables 1-1, 1-2
        ("D", 1000.0, 68.1, 32.1),  # quoted in the issue
        ("D", 100.0, 8.2, 4.7),
        ("F", 1000.0, 33.9, 14.0),
        ("B", 1000.0, 154.1, 109.3),
        ("C", 10000.0, 820.1, 502.3),
        ("E", 10000.0, 406.9, 79.1),
        ("A", 100.0, 26.9, 14.0),
    ],
)
def test_isc3_rural_sigmas(cls, x_m, sy, sz):
    assert float(sigma_y_rural(cls, x_m)) == pytest.approx(sy, abs=0.06)
    assert float(sigma_z_rural(cls, x_m)) == pytest.approx(sz, abs=0.06)


def test_isc3_caps_and_monotonic():
    assert float(sigma_z_rural("A", 5000.0)) == 5000.0
    x = np.linspace(50, 50000, 200)
    for c in "ABCDEF":
        assert np.all(np.diff(sigma_y_rural(c, x)) > 0)
        assert np.all(np.diff(sigma_z_rural(c, x)) >= 0)
    # more stable, less spread
    assert sigma_z_rural("F", 2000.0) < sigma_z_rural("D", 2000.0) < sigma_z_rural("B", 2000.0)


def test_briggs_urban():
    # McElroy-Pooler / Briggs urban: D at 1 km
    assert float(sigma_y_urban("D", 1000.0)) == pytest.approx(0.16 * 1000 / np.sqrt(1.4))
    assert float(sigma_z_urban("D", 1000.0)) == pytest.approx(0.14 * 1000 / np.sqrt(1.3))
    assert float(sigma_z_urban("A", 1000.0)) == pytest.approx(0.24 * 1000 * np.sqrt(2.0))
    # urban spreads more than rural for neutral near the source
    assert sigma_z_urban("D", 1000.0) > sigma_z_rural("D", 1000.0)


def test_turner_classes():
    # strong sun, light wind: A; strong sun, 6 m/s: C; clear night light wind: F; overcast: D
    assert turner_class(1.0, 65.0, 0.1) == 0
    assert turner_class(6.5, 65.0, 0.1) == 2
    assert turner_class(1.5, -20.0, 0.1) == 5
    assert turner_class(1.5, -20.0, 1.0) == 3
    assert turner_class(8.0, 40.0, 0.0) == 3
    assert turner_class(2.0, -5.0, 0.6) == 4  # cloudy night, 3.9 kt: NRI -1 -> E
    assert turner_class(0.5, -5.0, 0.6) == 5  # cloudy night, 1 kt: F


def test_sun_elevation():
    t = np.array(["2023-03-20T12:00"], dtype="datetime64[ns]") - np.timedelta64(30, "m")
    el = sun_elevation(t, 0.0, 0.0)
    assert el[0] == pytest.approx(90.0, abs=2.5)
    # Hangzhou: mid-January local noon about 90 - 30.3 - 21 = 38.7 degrees; midnight below 0
    noon = sun_elevation(np.array(["2023-01-15T03:30"], dtype="datetime64[ns]"), 120.2, 30.3)
    night = sun_elevation(np.array(["2023-01-15T16:00"], dtype="datetime64[ns]"), 120.2, 30.3)
    assert 35 < noon[0] < 42
    assert night[0] < -40


def test_briggs_rise():
    dh5 = float(briggs_rise(3, 5.0, 100.0, 5.0, 15.0, 420.0, 283.0))
    dh10 = float(briggs_rise(3, 10.0, 100.0, 5.0, 15.0, 420.0, 283.0))
    # buoyancy flux 9.81*15*25*(137)/(4*420) = 300 m4/s3 >= 55: 38.71 F^0.6 / u
    fb = 9.80665 * 15 * 25 * 137 / (4 * 420)
    assert dh5 == pytest.approx(38.71 * fb**0.6 / 5.0, rel=1e-6)
    assert dh10 == pytest.approx(dh5 / 2, rel=1e-6)
    stable = float(briggs_rise(5, 5.0, 100.0, 5.0, 15.0, 420.0, 283.0))
    assert 0 < stable < dh5
