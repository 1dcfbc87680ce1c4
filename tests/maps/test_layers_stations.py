"""The station layer's tables: stations and the fit statistics of their series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcarbon.errors import InputDataError
from gridcarbon.maps.layers_stations import station_frame, station_statistics


def test_station_statistics_against_numpy():
    rng = np.random.default_rng(3)
    o = rng.normal(420, 5, 50)
    pr = o + rng.normal(3, 2, 50)
    po = o + rng.normal(0.5, 1, 50)
    df = pd.DataFrame(
        {
            "station_id": "S1",
            "species": "CO2",
            "observed": o,
            "prior": pr,
            "posterior": po,
            "unit": "ppm",
        }
    )
    df.loc[0, "observed"] = np.nan  # ignored
    s = station_statistics(df).iloc[0]
    o1, pr1, po1 = o[1:], pr[1:], po[1:]
    assert s.n == 49 and s.unit == "ppm"
    assert s.bias_prior == pytest.approx((pr1 - o1).mean())
    assert s.rmse_posterior == pytest.approx(np.sqrt(((po1 - o1) ** 2).mean()))
    assert s.r_prior == pytest.approx(np.corrcoef(pr1, o1)[0, 1])
    # rows not assimilated are left out ("used" as written to a CSV and read back as text)
    used = df.assign(used=["True"] * 25 + ["False"] * 25)
    assert station_statistics(used).iloc[0].n == 24
    with pytest.raises(InputDataError):
        station_statistics(df.drop(columns=["prior"]))


def test_station_frame_validates(small):
    stations = small["inputs"].stations
    st = station_frame(stations.drop(columns=["kind"]))
    assert (st["kind"] == "").all()
    bad = stations.copy()
    bad.loc[0, "lat"] = np.nan
    with pytest.raises(InputDataError):
        station_frame(bad)
