"""The profile Connection Scan router: known answers, and the brute-force search as referee."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from analysis.transit import router
from analysis.transit.access import Legs
from analysis.transit.gtfs import read_gtfs
from analysis.transit.reference import brute_force_earliest_arrival, trip_order
from analysis.transit.router import INF, build_profiles, earliest_arrivals
from analysis.transit.timetable import (
    Footpaths,
    Timetable,
    build_footpaths,
    compile_timetable,
    load_timetable,
)

TINY = Path(__file__).parent / "data" / "gtfs_tiny"


def hms(text: str) -> int:
    h, m, s = (int(x) for x in text.split(":"))
    return h * 3600 + m * 60 + s


def route(
    tt: Timetable,
    fp: Footpaths,
    *,
    access: dict[int, int],
    egress: dict[int, tuple[int, int]],
    departures: list[int],
    direct: tuple[int, int] = (int(INF), -1),
    t_max: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Router answer for one origin (access: stop -> seconds; egress: stop -> (s, site))."""
    eg_t = np.full(tt.n_stops, INF, dtype=np.int64)
    eg_s = np.full(tt.n_stops, -1, dtype=np.int64)
    for s, (t, site) in egress.items():
        eg_t[s], eg_s[s] = t, site
    prof = build_profiles(tt, fp, eg_t, eg_s, t_min=min(departures), t_max=t_max)
    stops = np.array(sorted(access), dtype=np.int64)
    legs = Legs(
        indptr=np.array([0, len(stops)]),
        target=stops,
        time_s=np.array([access[s] for s in stops], dtype=np.int64),
    )
    arr, site = earliest_arrivals(
        prof, legs, np.array(departures), np.array([direct[0]]), np.array([direct[1]])
    )
    return arr[0], site[0]


def brute(
    tt: Timetable,
    fp: Footpaths,
    *,
    access: dict[int, int],
    egress: dict[int, tuple[int, int]],
    departure: int,
    direct: tuple[int, int] = (int(INF), -1),
    order: object | None = None,
) -> tuple[int, int]:
    eg_t = np.full(tt.n_stops, INF, dtype=np.int64)
    eg_s = np.full(tt.n_stops, -1, dtype=np.int64)
    for s, (t, site) in egress.items():
        eg_t[s], eg_s[s] = t, site
    return brute_force_earliest_arrival(
        tt, fp, departure=departure,
        access_stops=np.array(list(access), dtype=np.int64),
        access_times=np.array(list(access.values()), dtype=np.int64),
        egress_time=eg_t, egress_site=eg_s,
        direct_time=direct[0], direct_site=direct[1], order=order,  # type: ignore[arg-type]
    )  # fmt: skip


# ---------------------------------------------------------------------------------- tiny feed
@pytest.fixture(scope="module")
def tiny_feed():  # type: ignore[no-untyped-def]
    return read_gtfs(TINY)


def tiny(feed, date: str, **fp_kw):  # type: ignore[no-untyped-def]
    tt = compile_timetable([feed], date)
    fp = build_footpaths(tt, **{"min_transfer_s": 180, "max_transfer_walk_m": 400, **fp_kw})
    ids = {s.split(":", 1)[1]: i for i, s in enumerate(tt.stop_id)}
    return tt, fp, ids


CASES = [
    # (date, from, to, departure, footpath options, expected arrival or None)
    ("2025-02-04", "A", "D", "07:00:00", {}, "07:55:00"),  # T1, B->B2 600 s, T3 at 07:30
    ("2025-02-04", "A", "D", "07:00:00", {"min_transfer_s": 60}, "07:50:00"),  # T1, T2
    # transfers.txt keeps B -> B2 although it is beyond a 100 m transfer walk.
    ("2025-02-04", "A", "D", "07:00:00", {"max_transfer_walk_m": 100}, "07:55:00"),
    ("2025-02-04", "A", "D", "07:11:00", {}, "08:30:00"),  # T1 missed: T5
    ("2025-02-04", "A", "C", "07:00:00", {}, None),  # T8 sets nobody down at C
    ("2025-02-04", "A", "C", "07:00:00", {"min_transfer_s": 60}, "07:35:00"),  # T1, T2
    ("2025-02-04", "A", "E", "07:00:00", {}, "07:45:00"),  # T8 through C
    # WK removed that Wednesday: the first journey is Thursday's (the next day's trips are
    # compiled too, +24 h); routes never look further.
    ("2025-02-05", "A", "D", "07:00:00", {}, "31:55:00"),
    ("2025-02-05", "A", "D", "07:00:00", {"max_transfer_walk_m": 0}, "31:55:00"),
    ("2025-02-08", "A", "D", "08:50:00", {}, "09:30:00"),  # SAT added: T7
    ("2025-02-09", "A", "D", "07:00:00", {}, "31:55:00"),  # Sunday: Monday's T3
    ("2025-02-04", "A", "D", "07:31:00", {}, None),  # Tuesday after T5, Wednesday removed
    ("2025-02-05", "D", "E", "00:00:00", {}, "00:40:00"),  # Tuesday's T6 after midnight
    ("2025-02-06", "D", "E", "00:00:00", {}, "24:40:00"),  # Wednesday's T6 removed
    ("2025-02-04", "C", "D", "10:05:00", {}, "10:30:00"),  # frequencies: 10:20 instance
    ("2025-02-04", "C", "D", "10:41:00", {}, "24:10:00"),  # after the last one: T6
]


@pytest.mark.parametrize(("date", "a", "b", "dep", "fp_kw", "expected"), CASES)
def test_known_earliest_arrivals(tiny_feed, date, a, b, dep, fp_kw, expected) -> None:  # type: ignore[no-untyped-def]
    tt, fp, ids = tiny(tiny_feed, date, **fp_kw)
    want = int(INF) if expected is None else hms(expected)
    arr, site = route(tt, fp, access={ids[a]: 0}, egress={ids[b]: (0, 7)}, departures=[hms(dep)])
    assert int(arr[0]) == want
    assert int(site[0]) == (-1 if expected is None else 7)
    got, got_site = brute(tt, fp, access={ids[a]: 0}, egress={ids[b]: (0, 7)}, departure=hms(dep))
    assert got == want
    assert got_site == (-1 if expected is None else 7)


def test_transfer_override_and_ban(tiny_feed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    for text, expected in (
        ("B,B2,2,660\n", "08:00:00"),  # 07:20 + 660 s misses T3 at 07:30
        ("B,B2,3,\n", "08:00:00"),  # transfer forbidden
        ("B,B2,2,30\n", "07:55:00"),  # quicker than walking: still T3 (earliest leaving B2)
    ):
        folder = tmp_path / f"f{hash(text)}"
        shutil.copytree(TINY, folder)
        (folder / "transfers.txt").write_text(
            "from_stop_id,to_stop_id,transfer_type,min_transfer_time\n" + text
        )
        tt, fp, ids = tiny(read_gtfs(folder), "2025-02-04")
        arr, _ = route(
            tt, fp, access={ids["A"]: 0}, egress={ids["D"]: (0, 0)}, departures=[hms("07:00:00")]
        )
        assert int(arr[0]) == hms(expected), text


def test_access_egress_and_direct_walk(tiny_feed) -> None:  # type: ignore[no-untyped-def]
    tt, fp, ids = tiny(tiny_feed, "2025-02-04")
    # 5 min to walk to A misses T1 (07:10) from 07:06; T5 at 07:30; + 4 min egress.
    arr, _ = route(
        tt, fp, access={ids["A"]: 300}, egress={ids["D"]: (240, 0)}, departures=[hms("07:06:00")]
    )
    assert int(arr[0]) == hms("08:34:00")
    # Several departures at once, and a direct walk that wins late in the window.
    arr, site = route(
        tt, fp, access={ids["A"]: 0}, egress={ids["D"]: (0, 0)},
        departures=[hms("07:00:00"), hms("07:11:00"), hms("07:31:00")], direct=(4000, 5),
    )  # fmt: skip
    assert arr.tolist() == [hms("07:55:00"), hms("07:11:00") + 4000, hms("07:31:00") + 4000]
    assert site.tolist() == [0, 5, 5]
    # Nearest of two sites: C via T2 (min transfer 60) beats D.
    tt, fp, ids = tiny(tiny_feed, "2025-02-04", min_transfer_s=60)
    arr, site = route(
        tt, fp, access={ids["A"]: 0}, egress={ids["C"]: (0, 1), ids["D"]: (0, 2)},
        departures=[hms("07:00:00")],
    )  # fmt: skip
    assert (int(arr[0]), int(site[0])) == (hms("07:35:00"), 1)


def test_t_max_cuts_late_connections(tiny_feed) -> None:  # type: ignore[no-untyped-def]
    tt, fp, ids = tiny(tiny_feed, "2025-02-04")
    kw = {"access": {ids["A"]: 0}, "egress": {ids["D"]: (0, 0)}, "departures": [hms("07:11:00")]}
    assert int(route(tt, fp, **kw, t_max=hms("07:30:00"))[0][0]) == hms("08:30:00")
    assert int(route(tt, fp, **kw, t_max=hms("07:29:59"))[0][0]) == int(INF)


def test_python_fallback_matches_numba(tiny_feed) -> None:  # type: ignore[no-untyped-def]
    if not router.HAVE_NUMBA:
        pytest.skip("numba not installed: the Python loops are the only path")
    tt, fp, ids = tiny(tiny_feed, "2025-02-04", min_transfer_s=60)
    eg_t = np.full(tt.n_stops, INF, dtype=np.int64)
    eg_s = np.full(tt.n_stops, -1, dtype=np.int64)
    eg_t[ids["D"]], eg_s[ids["D"]] = 0, 0
    eg_t[ids["E"]], eg_s[ids["E"]] = 60, 1
    prof = build_profiles(tt, fp, eg_t, eg_s, t_min=0)
    counts = np.bincount(tt.c_dep_stop[tt.c_pickup], minlength=tt.n_stops)
    offset = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    args = (
        tt.c_dep_stop, tt.c_arr_stop, tt.c_dep, tt.c_arr, tt.c_trip, tt.c_pickup,
        tt.c_dropoff, 0, tt.n_connections, tt.n_trips, fp.indptr, fp.to, fp.time_s,
        eg_t, eg_s, offset,
    )  # fmt: skip
    py = router._profile_scan.py_func(*args)
    for a, b in zip(py, (prof.dep, prof.arr, prof.site, prof.count), strict=True):
        n = prof.count
        if len(a) == tt.n_stops:
            assert np.array_equal(a, b)
        else:
            for s in range(tt.n_stops):
                sl = slice(offset[s], offset[s] + n[s])
                assert np.array_equal(a[sl], b[sl])


# ---------------------------------------------------------------------------------- random
def random_timetable(rng: np.random.Generator) -> Timetable:
    n_stops = int(rng.integers(4, 14))
    n_trips = int(rng.integers(3, 40))
    rows = []
    for t in range(n_trips):
        k = int(rng.integers(2, min(7, n_stops) + 1))
        stops = rng.choice(n_stops, size=k, replace=False)
        time = int(rng.integers(6 * 3600, 9 * 3600))
        for j in range(k - 1):
            dwell = int(rng.choice([0, 0, 30, 60, 120]))
            dep = time + dwell
            arr = dep + int(rng.choice([0, 60, 180, 300, 600, 900]))
            rows.append((stops[j], stops[j + 1], dep, arr, t, j, rng.random() < 0.85,
                         rng.random() < 0.85))  # fmt: skip
            time = arr
    a = np.array(rows, dtype=np.int64)
    order = np.lexsort((a[:, 5], a[:, 4], a[:, 2]))
    a = a[order]
    xy = rng.uniform(0, 2500, size=(n_stops, 2))
    return Timetable(
        date=dt.date(2025, 2, 4), feeds=[{"name": "random"}],
        stop_id=np.array([f"s{i}" for i in range(n_stops)]), stop_name=np.array(["s"] * n_stops),
        stop_x=xy[:, 0], stop_y=xy[:, 1], stop_lon=np.zeros(n_stops), stop_lat=np.zeros(n_stops),
        stop_feed=np.zeros(n_stops, np.int32), trip_id=np.array([f"t{i}" for i in range(n_trips)]),
        c_dep_stop=a[:, 0].astype(np.int32), c_arr_stop=a[:, 1].astype(np.int32),
        c_dep=a[:, 2].astype(np.int32), c_arr=a[:, 3].astype(np.int32),
        c_trip=a[:, 4].astype(np.int32), c_pickup=a[:, 6].astype(bool),
        c_dropoff=a[:, 7].astype(bool), tr_from=np.zeros(0, np.int32),
        tr_to=np.zeros(0, np.int32), tr_type=np.zeros(0, np.int32), tr_time=np.zeros(0, np.int32),
    )  # fmt: skip


@pytest.mark.parametrize("seed", range(40))
def test_router_equals_brute_force_on_random_timetables(seed: int) -> None:
    rng = np.random.default_rng(seed)
    tt = random_timetable(rng)
    fp = build_footpaths(
        tt,
        min_transfer_s=int(rng.choice([1, 60, 180, 300])),
        max_transfer_walk_m=float(rng.choice([0, 500, 1500])),
    )
    n = tt.n_stops
    targets = rng.choice(n, size=int(rng.integers(1, 4)), replace=False)
    egress = {int(s): (int(rng.choice([0, 120, 600])), i) for i, s in enumerate(targets)}
    order = trip_order(tt)
    deps = sorted(int(x) for x in rng.integers(6 * 3600, 9 * 3600, size=6))
    for _ in range(5):
        src = rng.choice(n, size=int(rng.integers(1, 4)), replace=False)
        access = {int(s): int(rng.choice([0, 60, 400])) for s in src}
        direct = (int(rng.choice([4000, 20000])), 99) if rng.random() < 0.3 else (int(INF), -1)
        arr, site = route(tt, fp, access=access, egress=egress, departures=deps, direct=direct)
        for k, d in enumerate(deps):
            want, _ = brute(
                tt, fp, access=access, egress=egress, departure=d, direct=direct, order=order
            )
            assert int(arr[k]) == want, (seed, access, d)
            if want < INF and int(site[k]) != 99:
                # The site named is reached at that time (egress only to that site).
                only = {s: v for s, v in egress.items() if v[1] == int(site[k])}
                got, _ = brute(tt, fp, access=access, egress=only, departure=d, order=order)
                assert got == want


# ---------------------------------------------------------------------------------- real feed
@pytest.fixture(scope="module")
def real():  # type: ignore[no-untyped-def]
    from analysis import settings
    from analysis.transit.model import region_clip

    paths = sorted((settings.shared_data_dir / "gtfs").glob("*.zip"))
    if not paths:
        pytest.skip("the SNCF TER feed is not in the shared data folder")
    lon0, lat0, lon1, lat1 = settings.region_bbox_lonlat
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    x, y = tr.transform([lon0, lon1, lon0, lon1], [lat0, lat0, lat1, lat1])
    clip = region_clip(np.array(x), np.array(y), buffer_km=0)
    tt = load_timetable(paths, "2025-02-04", clip_l93=clip, use_cache=False)
    fp = build_footpaths(tt, min_transfer_s=180, max_transfer_walk_m=400)
    return tt, fp, trip_order(tt)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_router_equals_brute_force_on_the_real_feed(real, seed: int) -> None:  # type: ignore[no-untyped-def]
    tt, fp, order = real
    assert tt.n_stops > 1000 and tt.n_connections > 30_000
    rng = np.random.default_rng(100 + seed)
    # A set of "sites": 40 random stops with egress walks of 0-15 min.
    targets = rng.choice(tt.n_stops, size=40, replace=False)
    egress = {int(s): (int(rng.integers(0, 900)), i) for i, s in enumerate(targets)}
    departures = list(range(7 * 3600, 9 * 3600, 600))
    busy = np.bincount(tt.c_dep_stop, minlength=tt.n_stops)
    candidates = np.flatnonzero(busy > 0)
    for _ in range(10):
        src = rng.choice(candidates, size=int(rng.integers(1, 4)), replace=False)
        access = {int(s): int(rng.integers(0, 1200)) for s in src}
        arr, site = route(tt, fp, access=access, egress=egress, departures=departures)
        k = int(rng.integers(len(departures)))
        want, _ = brute(tt, fp, access=access, egress=egress, departure=departures[k], order=order)
        assert int(arr[k]) == want
        if want < INF:
            only = {s: v for s, v in egress.items() if v[1] == int(site[k])}
            got, _ = brute(tt, fp, access=access, egress=only, departure=departures[k], order=order)
            assert got == want
