"""Same-hour upwind–downwind differences (``errors.upwind_downwind: replace``): the pairs, the
differenced y, H and R, and the switch off leaving everything as it was."""

import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shapely

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.inversion.assimilation import assimilate
from gridcarbon.inversion.errors_model import ess_factor, gaspari_cohn
from gridcarbon.inversion.observation_types import StationHourObservations
from gridcarbon.inversion.system import ObservationSystem
from gridcarbon.inversion.upwind_downwind import (
    DIFFERENCE_KIND,
    apply_differences,
    component_rows,
    difference_covariance,
    difference_operator,
    pairs_of_system,
    select_pairs,
    wind_vectors,
)

CORRELATED = {"transport_error_model": "quadrature", "transport_error_correlation": "same_day"}


# -- hand-built pairs ----------------------------------------------------------------------------


def _network(direction_from: float, hours: int = 3, speed: float = 4.0, city_of_c: str = "A"):
    """Three stations of city "A": a at the origin, b 20 km east of it, c 20 km north of it;
    one quantity, one day, ``hours`` hours with the same wind at every station."""
    xy = pd.DataFrame({"x": [0.0, 20e3, 0.0], "y": [0.0, 0.0, 20e3]}, index=["a", "b", "c"])
    city = pd.Series(["A", "A", city_of_c], index=xy.index)
    times = pd.date_range("2023-01-01 04:00", periods=hours, freq="h")
    pairs = pd.DataFrame(
        {
            "station_id": np.repeat(xy.index.to_numpy(), hours),
            "obs_species": "Q",
            "day": 0,
            "time": np.tile(times.values, 3),
            "kind": "urban",
            "sector": 0,
            "group": np.repeat(np.arange(3), hours),
        }
    )
    we, wn = wind_vectors(np.full(len(pairs), speed), np.full(len(pairs), direction_from))
    return pairs, xy, city, we, wn


def _select(direction_from: float, **errors) -> tuple:
    pairs, xy, city, we, wn = _network(direction_from, city_of_c=errors.pop("city_of_c", "A"))
    used = np.ones(len(pairs), bool)
    cfg = InversionConfig(errors=errors).errors
    return pairs, select_pairs(pairs, used, xy, city, we, wn, cfg)


def test_off_by_default_and_the_settings_checked():
    e = InversionConfig().errors
    assert e.upwind_downwind == "off"
    with pytest.raises((ValueError, ConfigError), match="aggregation 'afternoon_mean'"):
        InversionConfig(errors={"upwind_downwind": "replace", "aggregation": "hourly"})
    with pytest.raises((ValueError, ConfigError), match="upwind_downwind_separation_km"):
        InversionConfig(errors={"upwind_downwind_separation_km": [30.0, 10.0]})


@pytest.mark.parametrize(
    ("direction_from", "expected"),
    [
        (270.0, ("a", "b")),  # from the west: a upwind of b
        (90.0, ("b", "a")),  # from the east: b upwind of a
        (180.0, ("a", "c")),  # from the south: a upwind of c
        (250.0, ("a", "b")),  # 20° off the a→b line: within 30°
        (135.0, ("b", "c")),  # from the south-east: along b→c (28 km)
        (225.0, None),  # 45° off a→b and a→c, 90° off b→c
        (45.0, None),  # 45° off b→a and c→a, 90° off c→b
    ],
)
def test_pairs_only_along_the_wind(direction_from, expected):
    _, found = _select(direction_from)
    if expected is None:
        assert len(found) == 0
        assert not found.paired.any()
        return
    assert len(found) == 1
    assert (found.up[0], found.down[0]) == expected
    assert found.up_pairs[0].size == found.down_pairs[0].size == 3


def test_separation_city_tolerance_and_one_pair_per_station():
    _, too_far = _select(270.0, upwind_downwind_separation_km=[25.0, 50.0])
    assert len(too_far) == 0
    _, narrow = _select(250.0, upwind_downwind_angle_deg=15.0)
    assert len(narrow) == 0
    # c in another city: a south wind pairs nothing
    _, other_city = _select(180.0, city_of_c="B")
    assert len(other_city) == 0
    # a wind along a→b and a→c at once (from the south-west, tolerance 50°): a joins one pair
    _, one = _select(225.0, upwind_downwind_angle_deg=50.0)
    assert len(one) == 1 and one.up[0] == "a"
    assert one.paired.sum() == 6  # the groups of a and of its partner, not the third station


def test_too_few_aligned_hours_form_no_pair():
    pairs, xy, city, we, wn = _network(270.0)
    we[[1, 4, 7]], wn[[1, 4, 7]] = 0.0, 4.0  # the middle hour blows north: 2 aligned hours
    used = np.ones(len(pairs), bool)
    two = select_pairs(pairs, used, xy, city, we, wn, InversionConfig().errors)
    assert len(two) == 1 and two.up_pairs[0].tolist() == [0, 2]
    three = InversionConfig(errors={"upwind_downwind_min_hours": 3}).errors
    assert len(select_pairs(pairs, used, xy, city, we, wn, three)) == 0


def test_background_and_a_common_mixing_height_error_cancel():
    """Two stations along the wind: a constant background ``b`` and a regional enhancement
    ``r`` seen by both, the city's increment ``Δ`` by the downwind one only, and a mixing
    height wrong by the same factor at both (signals × ``k``).  The innovation of the
    difference is ``(k − 1) Δ`` whatever ``b`` and ``r``; its R keeps the stations' own errors
    and loses the coherent transport part exactly (equal deviations at both)."""
    pairs, found = _select(270.0)
    keep = pairs["station_id"].isin(["a", "b"]).to_numpy()
    A_c, meta_c = component_rows(pairs, found)
    k, delta = 1.0 / 1.3, 3.0
    innovations = []
    for b, r in ((400.0, 5.0), (420.0, 12.0), (0.0, 0.0)):
        signal = np.where(pairs["station_id"] == "b", r + delta, r)
        observed = np.where(keep, b + k * signal, 0.0)
        modelled = np.where(keep, signal, 0.0)
        A, rows, _, _ = apply_differences(A_c, meta_c, np.ones(2), None, found)
        assert A.shape[0] == 1 and rows["kind"].tolist() == [DIFFERENCE_KIND]
        innovations.append(float((A @ (observed - modelled))[0]))
        single_b = float((A_c[0] @ (observed - modelled))[0])  # b alone keeps b and r
        assert single_b == pytest.approx(b + (k - 1) * (r + delta))
    np.testing.assert_allclose(innovations, (k - 1) * delta, rtol=1e-12)
    # R: own variances 0.4 and 0.9, a fully coherent transport part (δ equal at both)
    delta_nodes = np.array([[1.0, 0.5, -1.0], [1.0, 0.5, -1.0]])
    C = sp.csr_matrix(delta_nodes @ delta_nodes.T)
    r_var = np.array([0.4, 0.9]) + C.diagonal()
    _, _, r_d, c_d = apply_differences(A_c, meta_c, r_var, C, found)
    assert r_d[0] == pytest.approx(0.4 + 0.9, rel=1e-12)
    assert abs(c_d.toarray()).max() < 1e-12


def test_difference_covariance_is_d_r_dt():
    rng = np.random.default_rng(5)
    n_single, n_diff = 3, 2
    m = n_single + 2 * n_diff
    G = rng.normal(size=(m, m))
    C = sp.csr_matrix(G @ G.T)
    own = rng.uniform(0.5, 2.0, m)
    D = difference_operator(n_single, n_diff)
    r_var, c_out = difference_covariance(D, own + C.diagonal(), C)
    full = D.toarray() @ (np.diag(own) + C.toarray()) @ D.toarray().T
    np.testing.assert_allclose(r_var, np.diag(full), rtol=1e-12)
    np.testing.assert_allclose(
        np.diag(r_var - c_out.diagonal()) + c_out.toarray(), full, rtol=1e-12, atol=1e-12
    )
    # R_d = R_dd + R_uu − 2 R_du for the first difference (components n_single, n_single + 1)
    R = np.diag(own) + C.toarray()
    d, u = n_single, n_single + 1
    assert r_var[n_single] == pytest.approx(R[d, d] + R[u, u] - 2 * R[d, u], rel=1e-12)
    # without a correlated part nothing cancels
    r0, c0 = difference_covariance(D, own, None)
    assert c0 is None
    assert r0[n_single] == pytest.approx(own[d] + own[u], rel=1e-12)


# -- on the small case ---------------------------------------------------------------------------


def _cities():
    """Two synthetic cities splitting the small case at 120.35°E (lon/lat)."""
    return gpd.GeoDataFrame(
        {"adcode": ["330100", "330600"]},
        geometry=[shapely.box(119.8, 29.8, 120.35, 30.6), shapely.box(120.35, 29.8, 120.8, 30.6)],
        crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def with_cities(case):
    return dataclasses.replace(case.scenario, boundaries={"city": _cities()})


def _system(case, scenario, **errors):
    return ObservationSystem(case.prior, scenario, InversionConfig(errors=errors))


@pytest.fixture(scope="module")
def correlated_off(case, with_cities):
    return _system(case, with_cities, **CORRELATED)


@pytest.fixture(scope="module")
def correlated_on(case, with_cities):
    return _system(case, with_cities, **CORRELATED, upwind_downwind="replace")


@pytest.fixture(scope="module")
def observations(correlated_off):
    from gridcarbon.inversion.osse import make_truth, synthetic_observations

    s = correlated_off
    rng = np.random.default_rng(3)
    return synthetic_observations(s, make_truth(s, rng, "perturbed", s.config), rng, s.config)


def _before_pairing(m):
    """The station-hours that would be assimilated without the pairing."""
    return m.used | (m.reason == "paired upwind-downwind at other hours")


def test_needs_city_boundaries(case):
    with pytest.raises(InputDataError, match="city boundaries"):
        _system(case, case.scenario, upwind_downwind="replace")


def test_h_and_r_of_the_differences_against_their_construction(correlated_on, observations):
    s = correlated_on
    obs = StationHourObservations(observations)
    m = obs.match(s)
    found = pairs_of_system(s, _before_pairing(m))
    assert len(found) > 0
    diff = np.flatnonzero(m.rows["kind"].to_numpy() == DIFFERENCE_KIND)
    assert diff.size == len(found)
    n_single = len(m.rows) - diff.size
    np.testing.assert_array_equal(diff, n_single + np.arange(len(found)))
    cfg = s.config.errors
    P = s.pairs
    hours = (pd.DatetimeIndex(P["time"]) - pd.Timestamp("2000-01-01")) / pd.Timedelta(hours=1)
    hours = np.asarray(hours, float)
    xy = s.stations.set_index("station_id")[["x", "y"]]
    R = obs.error_covariance(s).toarray()

    def own(idx):
        n = idx.size
        return (m.measurement_error[idx] ** 2).mean() / n + m.model_error[idx].mean() ** 2 * (
            ess_factor(hours[idx], cfg.model_error_time_scale_h)
        )

    def dev(idx):
        return s.transport_deviations[:, idx].mean(axis=1)

    def taper(a, b):
        d = np.hypot(*(xy.loc[a].to_numpy() - xy.loc[b].to_numpy()))
        return gaspari_cohn(np.array([d / (cfg.transport_error_localisation_km * 1e3)]))[0]

    y_h = np.where(m.used, m.observed_hourly, 0.0)
    for j in range(len(found)):
        i = n_single + j
        dn, up = found.down_pairs[j], found.up_pairs[j]
        assert m.rows.at[i, "station_id"] == found.down[j]
        assert m.rows.at[i, "upwind_station_id"] == found.up[j]
        h_d = np.asarray(s.J[dn].mean(axis=0) - s.J[up].mean(axis=0)).ravel()
        np.testing.assert_allclose(m.jacobian[i].toarray().ravel(), h_d, rtol=1e-10, atol=1e-14)
        assert m.rows.at[i, "observed"] == pytest.approx(y_h[dn].mean() - y_h[up].mean())
        assert m.rows.at[i, "prior"] == pytest.approx(s.y_prior[dn].mean() - s.y_prior[up].mean())
        c_dd, c_uu = dev(dn) @ dev(dn), dev(up) @ dev(up)
        c_du = taper(found.down[j], found.up[j]) * (dev(dn) @ dev(up))
        expected = own(dn) + own(up) + c_dd + c_uu - 2 * c_du
        assert R[i, i] == pytest.approx(expected, rel=1e-10)
        assert m.r_var[i] == pytest.approx(expected, rel=1e-10)
    # a difference against a station alone on the same day: Cov = C(down, k) − C(up, k)
    A = m.aggregation
    j = 0
    day = found.day[j]
    same_day = [
        k
        for k in range(n_single)
        if m.rows.at[k, "day"] == day and taper(m.rows.at[k, "station_id"], found.down[j]) > 0
    ]
    assert same_day
    k = same_day[0]
    idx_k = A[k].indices
    sid_k = m.rows.at[k, "station_id"]
    dk = dev(idx_k)
    expected = taper(found.down[j], sid_k) * (dev(found.down_pairs[j]) @ dk) - taper(
        found.up[j], sid_k
    ) * (dev(found.up_pairs[j]) @ dk)
    assert R[n_single + j, k] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_no_station_hour_is_assimilated_twice_and_r_stays_positive_definite(
    correlated_on, observations
):
    s = correlated_on
    obs = StationHourObservations(observations)
    m = obs.match(s)
    touched = np.asarray((abs(m.aggregation) > 0).sum(axis=0)).ravel()
    assert touched.max() == 1
    # the hours assimilated are exactly those marked used; a paired station's other hours of
    # the day are marked and counted
    np.testing.assert_array_equal(touched == 1, m.used)
    assert m.counts["n_hourly_pairs_used"] == int(m.used.sum())
    dropped = m.reason == "paired upwind-downwind at other hours"
    assert m.counts["n_upwind_downwind_hours_dropped"] == int(dropped.sum())
    assert not (dropped & m.used).any()
    # a paired station's (station, quantity, day) has no observation alone
    found = pairs_of_system(s, _before_pairing(m))
    alone = m.rows[m.rows["kind"] != DIFFERENCE_KIND]
    keys_alone = set(zip(alone["station_id"], alone["species"], alone["day"], strict=True))
    for j in range(len(found)):
        for sid in (found.down[j], found.up[j]):
            assert (sid, found.species[j], found.day[j]) not in keys_alone
    assert m.counts["n_upwind_downwind_differences"] == len(found)
    R = obs.error_covariance(s).toarray()
    np.testing.assert_allclose(R, R.T, rtol=0, atol=0)
    assert np.linalg.eigvalsh(R).min() > 0
    np.linalg.cholesky(R)


def test_replace_without_pairs_is_bitwise_the_switch_off(case, with_cities, observations):
    """With the option on but no pair formed (a separation no pair has), y, H and R are those
    of the switch off, bit for bit, and so is the posterior; the default run never looks at
    cities (no ``station_city``, no new column)."""
    cfg = dict(CORRELATED, upwind_downwind_separation_km=[0.0, 1e-6])
    none = _system(case, with_cities, **cfg, upwind_downwind="replace")
    off = _system(case, with_cities, **CORRELATED)
    assert off.station_city is None
    a, b = StationHourObservations(observations), StationHourObservations(observations)
    ma, mb = a.match(off), b.match(none)
    assert "upwind_station_id" not in ma.rows
    assert mb.counts["n_upwind_downwind_differences"] == 0
    pd.testing.assert_frame_equal(ma.rows, mb.rows.drop(columns="upwind_station_id"))
    assert (ma.jacobian != mb.jacobian).nnz == 0
    np.testing.assert_array_equal(ma.r_var, mb.r_var)
    assert (a.error_covariance(off) != b.error_covariance(none)).nnz == 0
    ra, rb = assimilate(off, a, build_posterior=False), assimilate(none, b, build_posterior=False)
    np.testing.assert_array_equal(ra.x_post, rb.x_post)
    np.testing.assert_array_equal(ra.post_std, rb.post_std)
