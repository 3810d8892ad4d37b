"""Calibration of the estimated network: coach hops, pairs, split, fit, real data."""

from __future__ import annotations

import io
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from analysis.errors import DataMissingError, ValidationError
from analysis.estimated.calibration import (
    SPLIT_SALT,
    ErrorStats,
    _route_heldout,
    calibrate,
    fit_speeds,
    hop_pairs,
    path_class_lengths,
)
from analysis.estimated.coach_hops import HOP_COLUMNS, load_coach_hops, locate_points
from analysis.estimated.network import (
    CALIBRATION_SUMMARY,
    EstimatedNetworkParams,
    commune_skeleton,
    edge_times,
)

X0, Y0 = 840_000.0, 6_500_000.0


def lattice(nx, ny, *, side=1_000.0, deg3=None, jitter=0.0, seed=0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(nx * ny):
        i, j = k % nx, k // nx
        x, y = X0 + i * side, Y0 + j * side
        dx, dy = rng.uniform(-jitter, jitter, 2) * side
        rows.append(
            {
                "insee": f"99{k:03d}",
                "x_l93": x + side / 2 + dx,
                "y_l93": y + side / 2 + dy,
                "surface_km2": side * side / 1e6,
                "deg3": 3 if deg3 is None else deg3[k],
                "geometry": shapely.box(x, y, x + side, y + side),
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:2154")


def ring_classes(n: int) -> list[int]:
    """Urban centre in the middle, intermediate ring, rural outside (n x n)."""
    out = []
    for k in range(n * n):
        i, j = k % n, k // n
        ring = min(i, j, n - 1 - i, n - 1 - j)
        out.append(1 if ring >= 2 else 2 if ring == 1 else 3)
    return out


TRUE = EstimatedNetworkParams(
    speed_urban_kmh=35.0, speed_intermediate_kmh=55.0, speed_rural_kmh=80.0
)


@pytest.fixture(scope="module")
def synthetic():
    g = lattice(6, 6, side=2_000.0, deg3=ring_classes(6), jitter=0.3, seed=1)
    sk = commune_skeleton(g)
    rng = np.random.default_rng(7)
    a = rng.integers(0, 36, 400)
    b = rng.integers(0, 36, 400)
    keep = a != b
    pairs = pd.DataFrame({"commune_a": a[keep], "commune_b": b[keep]})
    pairs["snap_a_m"] = 0.0
    pairs["snap_b_m"] = 0.0
    t, lengths = path_class_lengths(sk, TRUE, pairs["commune_a"], pairs["commune_b"])
    assert (lengths > 0).any(axis=0).all()  # every class is crossed
    pairs["true_s"] = t
    return sk, pairs


# ---------------------------------------------------------------------- fit
def test_path_class_lengths_times_match_dijkstra(synthetic):
    sk, pairs = synthetic
    t, lengths = path_class_lengths(sk, TRUE, pairs["commune_a"], pairs["commune_b"])
    np.testing.assert_allclose(lengths @ (3.6 / TRUE.speeds_kmh), t)
    # against a direct Dijkstra on the timed edges
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    w = edge_times(sk, TRUE)
    n = sk.n_nodes
    m = sp.csr_matrix((np.r_[w, w], (np.r_[sk.u, sk.v], np.r_[sk.v, sk.u])), shape=(n, n))
    d = dijkstra(m, indices=pairs["commune_a"].to_numpy())
    np.testing.assert_allclose(t, d[np.arange(len(pairs)), pairs["commune_b"].to_numpy()])


def test_fit_recovers_known_speeds_and_overhead(synthetic):
    sk, pairs = synthetic
    obs = pairs.assign(time_s=pairs["true_s"] + 60.0)
    fit = fit_speeds(sk, obs)  # starts from 50 km/h everywhere
    np.testing.assert_allclose(fit.params.speeds_kmh, TRUE.speeds_kmh, rtol=1e-4)
    assert fit.stop_overhead_s == pytest.approx(60.0, abs=0.05)
    assert fit.converged


def test_fit_is_robust_to_noise_and_outliers(synthetic):
    sk, pairs = synthetic
    rng = np.random.default_rng(3)
    t = pairs["true_s"].to_numpy() * np.exp(rng.normal(0, 0.05, len(pairs)))
    out = rng.random(len(pairs)) < 0.1
    t[out] *= 2.5  # 10 % gross outliers (a coach stuck behind a tractor)
    fit = fit_speeds(sk, pairs.assign(time_s=t), fit_stop_overhead=False)
    np.testing.assert_allclose(fit.params.speeds_kmh, TRUE.speeds_kmh, rtol=0.05)


def test_only_speed_over_circuity_is_identified(synthetic):
    sk, pairs = synthetic
    obs = pairs.assign(time_s=pairs["true_s"])
    f12 = fit_speeds(sk, obs, initial=EstimatedNetworkParams(circuity=1.2).with_speeds([50] * 3))
    f14 = fit_speeds(sk, obs, initial=EstimatedNetworkParams(circuity=1.4).with_speeds([50] * 3))
    np.testing.assert_allclose(f14.params.speeds_kmh, f12.params.speeds_kmh * 1.4 / 1.2, rtol=1e-4)


def test_fit_needs_usable_pairs(synthetic):
    sk, pairs = synthetic
    same = pairs.assign(commune_b=pairs["commune_a"], time_s=100.0)
    with pytest.raises(ValidationError, match="no usable pair"):
        fit_speeds(sk, same)


def test_error_stats_by_hand():
    s = ErrorStats.of(np.array([110.0, 80.0, 100.0, 150.0]), np.full(4, 100.0))
    assert s.n == 4
    assert s.median_abs_pct == pytest.approx(15.0)  # |+10|, |-20|, 0, |+50| → 15
    assert s.bias_pct == pytest.approx(5.0)  # -20, 0, 10, 50 → 5
    assert s.p90_abs_pct == pytest.approx(20 + 0.7 * 30)


# ---------------------------------------------------------------------- hops → pairs
def make_hops(rows) -> pd.DataFrame:
    df = pd.DataFrame(
        rows, columns=["trip_id", "route_id", "stop_a", "stop_b", "ca", "cb", "time_s"]
    )
    g = lattice(4, 1)
    xs = g["x_l93"].to_numpy()
    out = pd.DataFrame(
        {
            "trip_id": df["trip_id"],
            "route_id": df["route_id"],
            "stop_a": df["stop_a"],
            "stop_b": df["stop_b"],
            "name_a": df["stop_a"],
            "name_b": df["stop_b"],
            "x_a": xs[df["ca"]] + 100.0,
            "y_a": Y0 + 500.0,
            "x_b": xs[df["cb"]] + 100.0,
            "y_b": Y0 + 500.0,
            "commune_a": df["ca"],
            "commune_b": df["cb"],
            "time_s": df["time_s"].astype(float),
        }
    )
    out["dist_m"] = np.hypot(out["x_a"] - out["x_b"], out["y_a"] - out["y_b"])
    return out[list(HOP_COLUMNS)]


def test_hop_pairs_dedupe_filters_and_counts():
    sk = commune_skeleton(lattice(4, 1))
    hops = make_hops(
        [
            ("t1", "R1", "A", "B", 0, 1, 120),
            ("t2", "R1", "B", "A", 1, 0, 180),  # same pair, other direction
            ("t3", "R1", "A", "B", 0, 1, 600),
            ("t1", "R1", "B", "B2", 1, 1, 60),  # within one commune
            ("t1", "R1", "B2", "C", 1, 2, 0),  # non-positive
            ("t4", "R2", "C", "D", 2, 3, 90),  # 1 km in 1.5 min: too short in time
            ("t4", "R2", "A", "D", 0, 3, 30),  # 3 km in 30 s: too short in time
            ("t5", "R2", "A", "C", 0, 2, 240),
        ]
    )
    pairs, counts, speeds = hop_pairs(hops, sk, holdout_fraction=0.0)
    assert counts["hops_region"] == 8
    assert counts["nonpositive_time"] == 1 and counts["same_commune"] == 1
    assert counts["pairs"] == 4 and counts["short"] == 2 and counts["implausible"] == 0
    assert counts["train"] == 2 and counts["test"] == 0
    ab = pairs[(pairs["stop_a"] == "A") & (pairs["stop_b"] == "B")].iloc[0]
    assert ab["time_s"] == 180.0 and ab["n_trips"] == 3  # median of 120, 180, 600
    assert ab["insee_a"] == "99000" and ab["insee_b"] == "99001"
    assert ab["snap_a_m"] == pytest.approx(100.0) and ab["snap_b_m"] == pytest.approx(100.0)
    assert speeds["hops"]["n"] == 6


def test_split_is_by_route_deterministic_and_leak_free():
    sk = commune_skeleton(lattice(4, 1))
    rows = []
    for r in range(20):
        a, b = r % 3, r % 3 + 1
        rows.append((f"t{r}", f"R{r}", f"S{r}a", f"S{r}b", a, b, 300))
        rows.append((f"u{r}", f"R{r}", f"S{r}b", f"S{r}c", b, 0 if b != 0 else 2, 400))
    hops = make_hops(rows)
    p1, c1, _ = hop_pairs(hops, sk, holdout_fraction=0.5)
    p2, c2, _ = hop_pairs(hops, sk, holdout_fraction=0.5)
    pd.testing.assert_frame_equal(p1, p2)
    assert c1 == c2
    routes = pd.Series([f"R{r}" for r in range(20)])
    held = dict(zip(routes, _route_heldout(routes, 0.5, SPLIT_SALT), strict=True))
    assert 0 < sum(held.values()) < 20
    for _, row in p1.iterrows():
        assert (row["split"] == "test") == all(held[r] for r in row["routes"])

    def key(df: pd.DataFrame) -> set[tuple[int, int]]:
        a, b = df["commune_a"].to_numpy(), df["commune_b"].to_numpy()
        return set(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist(), strict=True))

    assert not key(p1[p1["split"] == "test"]) & key(p1[p1["split"] == "train"])
    assert c1["test_leak_dropped"] > 0  # the commune pairs repeat across routes
    with pytest.raises(ValidationError):
        hop_pairs(hops, sk, holdout_fraction=1.0)


# ---------------------------------------------------------------------- GTFS reading
def write_gtfs(path, g: gpd.GeoDataFrame) -> None:
    """A tiny SNCF-like feed over a 3 x 1 lattice, plus one stop outside it."""
    tr = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
    xy = {  # stop area → Lambert-93 position
        "A": (X0 + 300, Y0 + 500),
        "B": (X0 + 1_500, Y0 + 400),
        "C": (X0 + 2_700, Y0 + 600),
        "Z": (X0 + 50_000, Y0 + 500),  # outside the communes
    }
    stop_rows = ["stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station"]
    for s, (x, y) in xy.items():
        lon, lat = tr.transform(x, y)
        stop_rows.append(f"StopArea:{s},Stop {s},{lat:.7f},{lon:.7f},1,")
        for kind in ("Car TER", "Train TER"):
            stop_rows.append(f"StopPoint:OCE{kind}-{s},Stop {s},{lat:.7f},{lon:.7f},0,StopArea:{s}")
    files = {
        "routes.txt": "route_id,agency_id,route_short_name,route_long_name,route_type\n"
        "R1,1,C1,coach,3\nR2,1,T1,train,2\n",
        "trips.txt": "route_id,service_id,trip_id\nR1,s,T1\nR1,s,T2\nR2,s,T3\nR2,s,T4\n",
        "stops.txt": "\n".join(stop_rows) + "\n",
        "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        # coach route, out of order on purpose
        "T1,08:04:00,08:05:00,StopPoint:OCECar TER-B,2\n"
        "T1,08:00:00,08:01:00,StopPoint:OCECar TER-A,1\n"
        "T1,08:10:00,08:10:00,StopPoint:OCECar TER-C,3\n"
        "T1,08:40:00,08:40:00,StopPoint:OCECar TER-Z,4\n"
        # over midnight
        "T2,23:58:00,23:58:00,StopPoint:OCECar TER-C,1\n"
        "T2,24:03:00,24:04:00,StopPoint:OCECar TER-B,2\n"
        # coach trip under a rail route
        "T3,09:00:00,09:00:00,StopPoint:OCECar TER-A,1\n"
        "T3,09:07:00,09:07:00,StopPoint:OCECar TER-C,2\n"
        # a train
        "T4,10:00:00,10:00:00,StopPoint:OCETrain TER-A,1\n"
        "T4,10:03:00,10:03:00,StopPoint:OCETrain TER-C,2\n",
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    path.write_bytes(buf.getvalue())


def test_load_coach_hops_from_a_tiny_feed(tmp_path):
    g = lattice(3, 1)
    gtfs = tmp_path / "feed.zip"
    write_gtfs(gtfs, g)
    hops = load_coach_hops(g, gtfs)
    assert list(hops.columns) == list(HOP_COLUMNS)
    got = {(r.trip_id, r.stop_a, r.stop_b): r.time_s for r in hops.itertuples()}
    assert got == {
        ("T1", "StopArea:A", "StopArea:B"): 180.0,  # dep 08:01 → arr 08:04
        ("T1", "StopArea:B", "StopArea:C"): 300.0,
        ("T2", "StopArea:C", "StopArea:B"): 300.0,  # 23:58 → 24:03
    }  # the hop to Z (outside) is dropped, and trains are not coaches
    ab = hops[hops["trip_id"] == "T1"].iloc[0]
    assert (ab["commune_a"], ab["commune_b"]) == (0, 1)
    assert ab["dist_m"] == pytest.approx(np.hypot(1_200, 100), abs=0.01)
    assert hops.attrs["n_hops_feed"] == 4  # 3 of T1 (one to Z) + 1 of T2
    with_rail = load_coach_hops(g, gtfs, include_rail_route_coaches=True)
    assert len(with_rail) == 4
    assert ("T3", "StopArea:A", "StopArea:C") in {
        (r.trip_id, r.stop_a, r.stop_b) for r in with_rail.itertuples()
    }


def test_missing_feed_and_bad_feed(tmp_path):
    g = lattice(2, 1)
    with pytest.raises(DataMissingError, match="TER timetable not found"):
        load_coach_hops(g, tmp_path / "nope.zip")
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("routes.txt", "route_id,route_type\nR,3\n")
    with pytest.raises(ValidationError, match=r"trips\.txt"):
        load_coach_hops(g, bad)


def test_locate_points():
    g = lattice(2, 1)
    got = locate_points(g, np.array([X0 + 10, X0 + 1_500, X0 + 9_000]), np.full(3, Y0 + 500))
    np.testing.assert_array_equal(got, [0, 1, -1])


# ---------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def real_report():
    from analysis.communes import load_communes
    from analysis.estimated.coach_hops import default_gtfs_path

    if not default_gtfs_path().exists():
        pytest.skip("the shared TER GTFS is not available")
    return calibrate(load_communes())


def test_real_calibration_reproduces_the_defaults(real_report):
    fitted = real_report.params
    defaults = EstimatedNetworkParams()
    np.testing.assert_allclose(fitted.speeds_kmh, defaults.speeds_kmh, atol=0.06)
    assert real_report.converged
    assert real_report.summary()["test"] == CALIBRATION_SUMMARY["test"]
    assert real_report.summary()["train"] == CALIBRATION_SUMMARY["train"]


def test_real_calibration_error_bounds(real_report):
    r = real_report
    assert r.counts["test"] >= 50 and r.counts["train"] >= 300
    assert r.test.median_abs_pct < 30 and abs(r.test.bias_pct) < 10
    assert r.test.median_abs_pct < r.baseline_test.median_abs_pct
    # speeds ordered by settlement class, and plausible for roads
    v = r.params.speeds_kmh
    assert 20 < v[0] < v[1] < v[2] < 110
    # the DESIGN figure: scheduled crow-fly speed median ~38 km/h, IQR 29-47
    s = r.crowfly_speed_kmh["pairs"]
    assert 34 < s["median"] < 42 and 25 < s["q25"] < s["q75"] < 52
