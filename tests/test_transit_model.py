"""TransitModel / BestOfModel: window statistics, statuses, legs, factory, real feed."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import settings
from analysis.errors import EmptyProfileError, ValidationError
from analysis.road_model import OriginTimes
from analysis.transit import (
    TRANSIT_STATUSES,
    AccessOptions,
    BestOfModel,
    TransitModel,
    build_transit_model,
    default_date,
    departure_times,
    window_percentile,
)
from analysis.transit.access import legs_within, merge_legs
from analysis.transit.gtfs import read_gtfs
from analysis.transit.reference import brute_force_earliest_arrival, trip_order
from analysis.transit.router import INF
from analysis.transit.timetable import compile_timetable

TINY = Path(__file__).parent / "data" / "gtfs_tiny"
MIN = 60


@pytest.fixture(autouse=True)
def _processed_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "processed_data_dir", tmp_path / "processed")


@pytest.fixture(scope="module")
def tiny_tt():  # type: ignore[no-untyped-def]
    return compile_timetable([read_gtfs(TINY)], "2025-02-04")


def stop_xy(tt, name: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    i = list(tt.stop_id).index(f"gtfs_tiny:{name}")
    return float(tt.stop_x[i]), float(tt.stop_y[i])


def model(tt, points, **kw) -> TransitModel:  # type: ignore[no-untyped-def]
    xy = np.array(points, dtype=float)
    return TransitModel(
        timetable=tt,
        origin_ids=np.array([f"{i:05d}" for i in range(len(xy))]),
        origin_x=xy[:, 0],
        origin_y=xy[:, 1],
        **kw,
    )


# ---------------------------------------------------------------------------------- helpers
def test_departure_times_default_window_has_12() -> None:
    d = departure_times(("07:00", "09:00"), 10)
    assert len(d) == 12 and d[0] == 7 * 3600 and d[-1] == 8 * 3600 + 50 * 60
    assert departure_times(("23:50", "24:21"), 15).tolist() == [85800, 86700, 87600]
    for bad in ((("09:00", "07:00"), 10), (("07:00", "09:00"), 0), (("7h", "9h"), 10)):
        with pytest.raises(ValidationError):
            departure_times(*bad)  # type: ignore[arg-type]


def test_window_percentile_matches_numpy_and_handles_missing() -> None:
    rng = np.random.default_rng(1)
    v = rng.uniform(0, 100, size=(50, 12))
    for q in (0, 25, 50, 80, 90, 100):
        assert np.allclose(window_percentile(v, q), np.percentile(v, q, axis=1))
    w = np.array([[1.0, 2.0, np.inf, np.inf], [1.0, 2.0, 3.0, np.inf], [np.inf] * 4])
    assert window_percentile(w, 50).tolist() == [np.inf, 2.5, np.inf]
    assert window_percentile(w, 25).tolist() == [1.75, 1.75, np.inf]


def test_legs_within_against_brute_force() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 10_000, size=(60, 2))
    q = rng.uniform(0, 10_000, size=(80, 2))
    legs = legs_within(p[:, 0], p[:, 1], q[:, 0], q[:, 1], max_m=2000, speed_kmh=4.5, circuity=1.3)
    d = np.hypot(p[:, None, 0] - q[None, :, 0], p[:, None, 1] - q[None, :, 1]) * 1.3
    for i in range(len(p)):
        sl = slice(legs.indptr[i], legs.indptr[i + 1])
        assert sorted(legs.target[sl].tolist()) == np.flatnonzero(d[i] <= 2000).tolist()
        want = np.ceil(d[i, legs.target[sl]] / (4.5 / 3.6))
        assert np.array_equal(legs.time_s[sl], want.astype(np.int64))
    t, s = legs.min_per_point()
    has = (d <= 2000).any(axis=1)
    assert np.array_equal(s >= 0, has)
    assert np.array_equal(t[has], np.ceil(d.min(axis=1)[has] / (4.5 / 3.6)))
    # Driving legs merged with walking ones keep the quicker leg per stop.
    drive = legs_within(
        p[:, 0], p[:, 1], q[:, 0], q[:, 1], max_m=20_000, speed_kmh=50, circuity=1.3, extra_s=300
    )
    both = merge_legs(legs, drive)
    assert np.array_equal(both.counts(), drive.counts())

    def as_dict(lg):  # type: ignore[no-untyped-def]
        pt = np.repeat(np.arange(lg.n_points), lg.counts())
        return {(int(a), int(b)): int(c) for a, b, c in zip(pt, lg.target, lg.time_s, strict=True)}

    w, dr, mg = as_dict(legs), as_dict(drive), as_dict(both)
    assert mg == {k: min(v, w.get(k, v)) for k, v in dr.items()}


# ---------------------------------------------------------------------------------- tiny feed
def test_window_statistics_statuses_and_sites(tiny_tt) -> None:  # type: ignore[no-untyped-def]
    ax, ay = stop_xy(tiny_tt, "A")
    dx, dy = stop_xy(tiny_tt, "D")
    ex, ey = stop_xy(tiny_tt, "E")
    m = model(
        tiny_tt,
        [(ax, ay), (ax, ay + 10_000), (dx + 300, dy), (ex, ey)],
        window=("07:00", "07:30"),
    )
    assert m.departures.tolist() == [7 * 3600, 7 * 3600 + 600, 7 * 3600 + 1200]
    r = m.nearest(np.array([dx]), np.array([dy]))
    assert isinstance(r, OriginTimes)
    # From A: 07:00 -> 07:55 (55 min); 07:10 -> T1 07:10 -> 07:55 (45); 07:20 -> T5 -> 08:30 (70).
    assert r.by_departure_s[0].tolist() == [55 * MIN, 45 * MIN, 70 * MIN]
    assert r.time_s[0] == r.median_s[0] == 55 * MIN
    assert r.served[0] == 3 and r.site[0] == 0
    # 10 km from any stop or site: beyond walking distance, not "no service".
    assert r.status[1] == "beyond_walk" and np.isinf(r.time_s[1]) and r.site[1] == -1
    # 300 m from the site: a direct walk, 300 x 1.3 / 1.25 m/s = 312 s.
    assert r.time_s[2] == 312 and r.status[2] == "ok"
    # At E: a stop is at hand but nothing leaves E for D within 4 h: no usable service.
    assert r.status[3] == "no_service" and r.served[3] == 0
    assert set(r.status) <= set(TRANSIT_STATUSES)


def test_sparse_service_and_percentile(tiny_tt) -> None:  # type: ignore[no-untyped-def]
    cx, cy = stop_xy(tiny_tt, "C")
    dx, dy = stop_xy(tiny_tt, "D")
    # From C within 60 min: 07:30 -> T2 07:35 -> 07:50 (20 min); later: T10 at 10:00 (too long).
    m = model(tiny_tt, [(cx, cy)], window=("07:30", "08:30"), max_journey_min=60)
    r = m.nearest(np.array([dx]), np.array([dy]))
    assert r.served[0] == 1 and np.isinf(r.time_s[0]) and r.status[0] == "sparse_service"
    m = model(tiny_tt, [(cx, cy)], window=("07:30", "08:30"), max_journey_min=60, percentile=0)
    r = m.nearest(np.array([dx]), np.array([dy]))
    assert r.time_s[0] == 20 * MIN and r.status[0] == "ok" and np.isinf(r.median_s[0])
    assert "P0" in m.label
    # Without a journey cap the 10:00 coach counts: 07:40 -> 10:10 = 150 min, etc.
    m = model(tiny_tt, [(cx, cy)], window=("07:30", "08:30"), max_journey_min=None)
    r = m.nearest(np.array([dx]), np.array([dy]))
    assert r.by_departure_s[0].tolist()[:2] == [20 * MIN, 150 * MIN]
    assert r.status[0] == "ok"


def test_park_and_ride(tiny_tt) -> None:  # type: ignore[no-untyped-def]
    ax, ay = stop_xy(tiny_tt, "A")
    dx, dy = stop_xy(tiny_tt, "D")
    pts = [(ax - 5000, ay), (ax - 40_000, ay)]
    walk = model(tiny_tt, pts, window=("06:40", "06:50"))
    r = walk.nearest(np.array([dx]), np.array([dy]))
    assert r.status.tolist() == ["beyond_walk", "beyond_walk"]
    assert not walk.estimated
    pr = model(tiny_tt, pts, window=("06:40", "06:50"), access=AccessOptions(park_and_ride=True))
    r = pr.nearest(np.array([dx]), np.array([dy]))
    # Driving past A to B (8.9 km x 1.3 at 50 km/h + 5 min parking: 06:59) -> T2 -> D 07:50.
    assert r.status[0] == "ok" and r.time_s[0] == 70 * MIN
    assert r.status[1] == "beyond_drive"
    assert pr.estimated and "park-and-ride" in pr.label


def test_empty_sites_and_bad_options(tiny_tt) -> None:  # type: ignore[no-untyped-def]
    m = model(tiny_tt, [(0.0, 0.0)])
    with pytest.raises(EmptyProfileError):
        m.nearest(np.array([]), np.array([]))
    with pytest.raises(ValidationError, match="percentile"):
        model(tiny_tt, [(0.0, 0.0)], percentile=120)
    with pytest.raises(ValidationError, match="finite"):
        m.nearest(np.array([np.nan]), np.array([0.0]))
    with pytest.raises(ValidationError):
        AccessOptions(walk_speed_kmh=0)


class FakeRoad:
    mode = "road"
    estimated = True
    label = "fake road"

    def __init__(self, times: list[float], ids: np.ndarray) -> None:
        self.times = np.array(times)
        self.origin_ids = ids

    def nearest(self, x, y, host_ids=None) -> OriginTimes:  # type: ignore[no-untyped-def]
        t = self.times
        return OriginTimes(
            time_s=t,
            site=np.where(np.isfinite(t), 0, -1),
            status=np.where(np.isfinite(t), "ok", "unreachable"),
        )


def test_best_of_takes_the_quicker_mode(tiny_tt) -> None:  # type: ignore[no-untyped-def]
    ax, ay = stop_xy(tiny_tt, "A")
    dx, dy = stop_xy(tiny_tt, "D")
    ex, ey = stop_xy(tiny_tt, "E")
    tm = model(tiny_tt, [(ax, ay), (ax, ay), (ax, ay + 9000), (ex, ey)], window=("07:00", "07:30"))
    road = FakeRoad([30 * MIN, 90 * MIN, np.inf, np.inf], tm.origin_ids)
    best = BestOfModel(road, tm)
    assert best.mode == "best" and best.estimated and "fake road" in best.label
    r = best.nearest(np.array([dx, ex]), np.array([dy, ey]))
    # From A to D or E: 07:00 T8 -> E 07:45; 07:10 T1 -> D 07:55; 07:20 T5 -> D 08:30.
    assert r.transit.by_departure_s[0].tolist() == [45 * MIN, 45 * MIN, 70 * MIN]
    assert r.time_s[:2].tolist() == [30 * MIN, 45 * MIN]
    assert np.array_equal(r.time_s, np.minimum(r.road.time_s, r.transit.time_s))
    assert r.winner.tolist()[:3] == ["road", "transit", "none"]
    assert r.status.tolist()[2] == "unreachable"
    assert r.status.tolist()[3] == "ok" and r.time_s[3] == 0  # at E: walk to the site at E
    with pytest.raises(ValidationError, match="different communes"):
        BestOfModel(FakeRoad([1.0], np.array(["x"])), tm)


# ---------------------------------------------------------------------------------- factory
def test_factory_date_default_and_range(tmp_path: Path) -> None:
    communes = pd.DataFrame({"insee": ["69001"], "x_l93": [842_000.0], "y_l93": [6_520_000.0]})
    assert default_date([TINY]) == dt.date(2025, 2, 11)  # first Tuesday a week in
    m = build_transit_model(communes, gtfs_paths=[TINY], window=("07:00", "08:00"))
    assert m.timetable.date == dt.date(2025, 2, 11) and "Tue 2025-02-11" in m.label
    assert m.mode == "transit" and len(m.departures) == 6
    with pytest.raises(ValidationError, match="valid from 2025-02-01 to 2025-02-28") as e:
        build_transit_model(communes, gtfs_paths=[TINY], date="2025-03-05")
    assert "2025-03-05" in str(e.value)
    with pytest.raises(ValidationError, match="x_l93"):
        build_transit_model(communes[["insee"]], gtfs_paths=[TINY])


def test_feeds_combine(tmp_path: Path) -> None:
    """A second feed (say, a departmental coach) joins the first through a short walk."""
    f2 = tmp_path / "coach"
    f2.mkdir()
    (f2 / "agency.txt").write_text("agency_id,agency_name,agency_url,agency_timezone\n"
                                   "CO,Coach,https://example.org,Europe/Paris\n")  # fmt: skip
    # P is ~150 m east of D (4.95); R is 10 km further east.
    (f2 / "stops.txt").write_text("stop_id,stop_name,stop_lat,stop_lon\n"
                                  "P,Papa,45.70,4.952\nR,Romeo,45.70,5.13\n")  # fmt: skip
    (f2 / "routes.txt").write_text("route_id,route_type\nZ,3\n")
    (f2 / "trips.txt").write_text("route_id,service_id,trip_id\nZ,ALL,Z1\n")
    (f2 / "stop_times.txt").write_text(
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "Z1,08:10:00,08:10:00,P,1\nZ1,08:40:00,08:40:00,R,2\n"
    )
    (f2 / "calendar.txt").write_text(
        "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
        "ALL,1,1,1,1,1,1,1,20250101,20251231\n"
    )
    tt = compile_timetable([read_gtfs(TINY), read_gtfs(f2)], "2025-02-04")
    assert {s.split(":")[0] for s in tt.stop_id} == {"gtfs_tiny", "coach"}
    ax, ay = stop_xy(tt, "A")
    r_i = list(tt.stop_id).index("coach:R")
    m = model(tt, [(ax, ay)], window=("07:00", "07:10"))
    r = m.nearest(np.array([tt.stop_x[r_i]]), np.array([tt.stop_y[r_i]]))
    # T1 + B->B2 + T3 to D 07:55, walk D -> P (~150 m, 3 min minimum transfer), Z1 08:10 -> R 08:40.
    assert r.time_s[0] == 100 * MIN
    comm = pd.DataFrame({"insee": ["1"], "x_l93": [ax], "y_l93": [ay]})
    m2 = build_transit_model(comm, gtfs_paths=[TINY, f2], date="2025-02-04", use_cache=False)
    assert "gtfs_tiny + coach" in m2.label
    with pytest.raises(ValidationError, match="valid from 2025-02-01 to 2025-02-28"):
        build_transit_model(comm, gtfs_paths=[f2, TINY], date="2025-06-03")


# ---------------------------------------------------------------------------------- real feed
def real_communes() -> pd.DataFrame:
    import geopandas as gpd
    from pyproj import Transformer

    path = settings.shared_data_dir / "communes" / "communes_84_cog2026.gpkg"
    if not path.exists():
        pytest.skip("commune layer not in the shared data folder")
    c = gpd.read_file(path).sort_values("insee").reset_index(drop=True)
    tr = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    c["x_l93"], c["y_l93"] = tr.transform(c["lon_pos"].to_numpy(), c["lat_pos"].to_numpy())
    return c


def france_travail_sites() -> tuple[np.ndarray, np.ndarray]:
    from pyproj import Transformer

    path = settings.shared_data_dir / "access_points" / "france_travail_2019.csv"
    if not path.exists():
        pytest.skip("France Travail sites not in the shared data folder")
    s = pd.read_csv(path)
    tr = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    x, y = tr.transform(s["lon"].to_numpy(), s["lat"].to_numpy())
    return np.asarray(x), np.asarray(y)


@pytest.fixture(scope="module")
def real_models():  # type: ignore[no-untyped-def]
    if not sorted((settings.shared_data_dir / "gtfs").glob("*.zip")):
        pytest.skip("the SNCF TER feed is not in the shared data folder")
    communes = real_communes()
    walk = build_transit_model(communes, use_cache=False)
    pr = TransitModel(
        timetable=walk.timetable,
        origin_ids=walk.origin_ids,
        origin_x=walk.origin_x,
        origin_y=walk.origin_y,
        access=AccessOptions(park_and_ride=True),
    )
    return communes, walk, pr


@pytest.mark.slow
def test_real_feed_model_invariants(real_models) -> None:  # type: ignore[no-untyped-def]
    communes, walk, pr = real_models
    assert walk.timetable.date == dt.date(2025, 2, 4)
    assert "sncf_ter_2025-01" in walk.label and "07:00-08:50" in walk.label
    assert len(walk.departures) == 12
    sx, sy = france_travail_sites()
    for m in (walk, pr):
        r = m.nearest(sx, sy)
        assert len(r.time_s) == len(communes) == 4025
        ok = r.status == "ok"
        assert set(r.status) <= set(TRANSIT_STATUSES)
        assert np.all(np.isfinite(r.time_s[ok])) and np.all(np.isinf(r.time_s[~ok]))
        assert np.all(r.time_s[ok] >= 0)
        assert np.all((r.site[ok] >= 0) & (r.site[ok] < len(sx)))
        assert np.all(r.served[r.status == "no_service"] == 0)
        # Every time is at most the journey cap.
        fin = np.isfinite(r.by_departure_s)
        assert np.all(r.by_departure_s[fin] <= 240 * MIN)
    rw, rp = walk.nearest(sx, sy), pr.nearest(sx, sy)
    # Park-and-ride only adds options: never slower, never fewer communes served.
    both = np.isfinite(rw.time_s)
    assert np.all(rp.time_s[both] <= rw.time_s[both])
    assert (rp.status == "ok").sum() > (rw.status == "ok").sum()
    assert (rw.status == "beyond_walk").sum() > 1000  # most communes have no station nearby


@pytest.mark.slow
def test_real_feed_communes_against_brute_force(real_models) -> None:  # type: ignore[no-untyped-def]
    _, _, pr = real_models
    sx, sy = france_travail_sites()
    arrival, _ = pr.arrivals(sx, sy)
    eg_t, eg_s, di_t, di_s = pr.site_legs(sx, sy)
    legs = pr.origin_legs
    order = trip_order(pr.timetable)
    rng = np.random.default_rng(7)
    cands = np.flatnonzero(legs.counts() > 0)
    cap = pr.departures[-1] + pr.max_journey_s
    for o in rng.choice(cands, size=25, replace=False):
        k = int(rng.integers(len(pr.departures)))
        sl = slice(legs.indptr[o], legs.indptr[o + 1])
        want, _ = brute_force_earliest_arrival(
            pr.timetable, pr.footpaths, departure=int(pr.departures[k]),
            access_stops=legs.target[sl], access_times=legs.time_s[sl],
            egress_time=eg_t, egress_site=eg_s, direct_time=int(di_t[o]),
            direct_site=int(di_s[o]), order=order,
        )  # fmt: skip
        got = int(arrival[o, k])
        # Connections after the last departure + the journey cap are not scanned.
        if want <= cap:
            assert got == want
        else:
            assert got == int(INF) or got > cap


def test_shared_copy_of_tiny_feed_unchanged(tmp_path: Path) -> None:
    # The fixture folder is read-only input: reading it writes nothing next to it.
    before = sorted(p.name for p in TINY.iterdir())
    shutil.copytree(TINY, tmp_path / "copy")
    read_gtfs(tmp_path / "copy")
    assert sorted(p.name for p in TINY.iterdir()) == before
