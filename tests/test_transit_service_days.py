"""One service day per feed (issue 11): the default rule, explicit days, errors, labels."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ValidationError
from analysis.transit.gtfs import read_gtfs
from analysis.transit.model import build_transit_model
from analysis.transit.service_days import (
    choose_service_days,
    is_school_term,
    nearest_term_day,
    parse_feed_dates,
    reference_date,
)
from analysis.transit.timetable import compile_timetable

D = dt.date
TINY = Path(__file__).parent / "data" / "gtfs_tiny"


def info(name: str, lo: str, hi: str) -> dict[str, str]:
    return {"name": name, "path": f"/x/{name}.zip", "start_date": lo, "end_date": hi}


def test_school_term_zone_a() -> None:
    # Zone A (Lyon, Grenoble, Clermont): winter holidays 2025-02-22 .. 2025-03-10.
    assert is_school_term(D(2025, 2, 4)) and is_school_term(D(2025, 2, 18))
    assert not is_school_term(D(2025, 2, 25)) and not is_school_term(D(2025, 3, 4))
    assert not is_school_term(D(2019, 10, 22))  # Toussaint 2019
    assert is_school_term(D(2023, 5, 16))


def test_reference_date_is_first_term_tuesday_a_week_in() -> None:
    assert reference_date(D(2025, 1, 22), D(2025, 4, 22)) == D(2025, 2, 4)  # TER 2025
    # a calendar starting in the holidays: the first term Tuesday after them
    assert reference_date(D(2025, 2, 20), D(2025, 4, 30)) == D(2025, 3, 11)


@pytest.mark.parametrize(
    ("requested", "lo", "hi", "expected"),
    [
        # inside the calendar, in term: the day itself
        (D(2025, 2, 4), D(2025, 1, 22), D(2025, 4, 22), D(2025, 2, 4)),
        # requested Tuesday in the holidays: the nearest term Tuesday (02-18, 7 days off,
        # rather than 03-11, 14 days off)
        (D(2025, 2, 25), D(2025, 1, 22), D(2025, 4, 22), D(2025, 2, 18)),
        (D(2025, 3, 4), D(2025, 1, 22), D(2025, 4, 22), D(2025, 3, 11)),
        # an older feed: its last term Tuesday (nearest to a 2025 date)
        (D(2025, 2, 4), D(2023, 4, 10), D(2023, 6, 4), D(2023, 5, 30)),
        # TER 2019: 2019-11-26 (Toussaint 2019-10-19 .. 11-04 skipped by the nearest rule)
        (D(2025, 2, 4), D(2019, 9, 1), D(2019, 11, 30), D(2019, 11, 26)),
        # a feed in the future: its first term day of that weekday
        (D(2025, 2, 4), D(2025, 10, 1), D(2025, 12, 31), D(2025, 10, 7)),
        # the weekday follows the request (a Thursday)
        (D(2025, 2, 6), D(2023, 4, 10), D(2023, 6, 4), D(2023, 6, 1)),
        # a calendar with that weekday only in the holidays: the weekday still wins
        (D(2025, 2, 4), D(2025, 2, 24), D(2025, 3, 2), D(2025, 2, 25)),
    ],
)
def test_nearest_term_day(requested: dt.date, lo: dt.date, hi: dt.date, expected: dt.date) -> None:
    day = nearest_term_day(requested, lo, hi)
    assert day == expected
    assert day.weekday() == requested.weekday() and lo <= day <= hi


def test_choose_days_default_explicit_and_errors() -> None:
    ter = info("ter", "2025-01-22", "2025-04-22")
    tag = info("tag", "2023-04-10", "2023-06-04")
    req, days = choose_service_days([ter, tag])
    assert req == D(2025, 2, 4) and days == [D(2025, 2, 4), D(2023, 5, 30)]
    # an unrelated feed does not move the others' days (the first feed sets the request)
    _, alone = choose_service_days([ter])
    _, more = choose_service_days([ter, info("far", "2026-01-05", "2026-03-01"), tag])
    assert alone == [D(2025, 2, 4)] and more[0] == D(2025, 2, 4) and more[2] == D(2023, 5, 30)
    # explicit per-feed day, by name or by file stem
    _, days = choose_service_days([ter, tag], feed_dates={"tag": "2023-05-16"})
    assert days == [D(2025, 2, 4), D(2023, 5, 16)]
    _, days = choose_service_days([ter, tag], "2025-02-11", {"tag": "2023-05-16"})
    assert days == [D(2025, 2, 11), D(2023, 5, 16)]
    # an explicit --date outside a feed's calendar stays an error naming its range
    with pytest.raises(ValidationError, match="valid from 2023-04-10 to 2023-06-04") as e:
        choose_service_days([ter, tag], "2025-02-11")
    assert "2025-02-11" in str(e.value) and "--feed-date tag=" in str(e.value)
    with pytest.raises(ValidationError, match="valid from 2023-04-10 to 2023-06-04"):
        choose_service_days([ter, tag], feed_dates={"tag": "2023-07-04"})
    with pytest.raises(ValidationError, match="names no feed in use: nope"):
        choose_service_days([ter, tag], feed_dates={"nope": "2023-05-16"})


def test_parse_feed_dates() -> None:
    assert parse_feed_dates(["a=2025-02-04", "b = 20230516"]) == {
        "a": D(2025, 2, 4),
        "b": D(2023, 5, 16),
    }
    with pytest.raises(ValidationError, match="FEED=YYYY-MM-DD"):
        parse_feed_dates(["2025-02-04"])


def coach_2023(tmp_path: Path) -> Path:
    """A coach feed of 2023 (weekdays 2023-04-10 .. 2023-06-04)."""
    f2 = tmp_path / "coach"
    f2.mkdir()
    (f2 / "agency.txt").write_text("agency_id,agency_name,agency_url,agency_timezone\n"
                                   "CO,Coach,https://example.org,Europe/Paris\n")  # fmt: skip
    # P is ~150 m east of the tiny feed's D (4.95); R is 10 km further east.
    (f2 / "stops.txt").write_text("stop_id,stop_name,stop_lat,stop_lon\n"
                                  "P,Papa,45.70,4.952\nR,Romeo,45.70,5.13\n")  # fmt: skip
    (f2 / "routes.txt").write_text("route_id,route_type\nZ,3\n")
    (f2 / "trips.txt").write_text("route_id,service_id,trip_id\nZ,WK,Z1\nZ,WK,Z2\n")
    (f2 / "stop_times.txt").write_text(
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "Z1,08:10:00,08:10:00,P,1\nZ1,08:40:00,08:40:00,R,2\n"
        "Z2,09:10:00,09:10:00,P,1\nZ2,09:40:00,09:40:00,R,2\n"
    )
    (f2 / "calendar.txt").write_text(
        "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
        "WK,1,1,1,1,1,0,0,20230410,20230604\n"
    )
    return f2


def test_two_feeds_on_their_own_days_with_a_walking_transfer(tmp_path: Path) -> None:
    f2 = coach_2023(tmp_path)
    tiny, coach = read_gtfs(TINY), read_gtfs(f2)
    tt = compile_timetable([tiny, coach], "2025-02-04", ["2025-02-04", "2023-05-16"])
    assert tt.feed_days == [D(2025, 2, 4), D(2023, 5, 16)]
    assert tt.label == "GTFS gtfs_tiny on Tue 2025-02-04 + coach on Tue 2023-05-16"
    assert tt.feeds[1]["trips_that_day"] == 2
    # the coach's trips are there, at their times of their own day
    z1 = [i for i, t in enumerate(tt.trip_id) if t == "coach:Z1"]
    assert len(z1) == 1 and 8 * 3600 + 600 in tt.c_dep[tt.c_trip == z1[0]]
    # the same request on one common date is refused, naming the coach's range
    with pytest.raises(ValidationError, match="valid from 2023-04-10 to 2023-06-04"):
        compile_timetable([tiny, coach], "2025-02-04")

    a = tt.stop_id.tolist().index("gtfs_tiny:A")
    r = tt.stop_id.tolist().index("coach:R")
    comm = pd.DataFrame({"insee": ["1"], "x_l93": [tt.stop_x[a]], "y_l93": [tt.stop_y[a]]})
    m = build_transit_model(comm, gtfs_paths=[TINY, f2], window=("07:00", "07:10"), use_cache=False)
    # default: tiny on its reference Tuesday 2025-02-11, the coach on its term Tuesday
    # nearest to it, its last one (2023-05-30)
    assert m.timetable.feed_days == [D(2025, 2, 11), D(2023, 5, 30)]
    assert "coach on Tue 2023-05-30" in m.label and "gtfs_tiny on Tue 2025-02-11" in m.label
    assert m.meta["feed_days"] == {"gtfs_tiny": "2025-02-11", "coach": "2023-05-30"}
    ans = m.nearest(np.array([tt.stop_x[r]]), np.array([tt.stop_y[r]]))
    # T1 + B->B2 + T3 to D 07:55, walk D -> P (~150 m), Z1 08:10 -> R 08:40: 100 min
    assert ans.time_s[0] == 100 * 60
    m2 = build_transit_model(
        comm,
        gtfs_paths=[TINY, f2],
        feed_dates={"coach": "2023-05-16"},
        window=("07:00", "07:10"),
        use_cache=False,
    )
    assert m2.timetable.feed_days == [D(2025, 2, 11), D(2023, 5, 16)]


# ------------------------------------------------------------------ combining feeds (item 2)
def test_feed_roles_older_vintage_supplements_the_newer() -> None:
    from analysis.transit.timetable import feed_roles

    names = ["sncf_ter_2025-01", "sncf_tgv_2025-01", "sncf_ter_2019-09", "tag", "x_2020-01"]
    assert feed_roles(names) == [None, None, 0, None, None]


def copy_feed(src: Path, dst: Path, **replace: str) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        text = f.read_text()
        for old, new in replace.items():
            text = text.replace(old, new)
        (dst / f.name).write_text(text)
    return dst


def test_a_trip_present_in_two_feeds_is_counted_once(tmp_path: Path) -> None:
    """The tiny feed copied under another name (its ids renamed): every trip once."""
    twin = copy_feed(TINY, tmp_path / "twin")
    one = compile_timetable([read_gtfs(TINY)], "2025-02-04")
    both = compile_timetable([read_gtfs(TINY), read_gtfs(twin)], "2025-02-04")
    assert both.n_connections == one.n_connections
    assert both.feeds[1]["trips_in_an_earlier_feed"] == one.feeds[0]["trips_used"] > 0
    assert not any(t.startswith("twin:") for t in both.trip_id)
    # the same trip shifted by one minute is another vehicle: kept
    shifted = copy_feed(coach_2023(tmp_path), tmp_path / "coach_b", **{"08:10:00": "08:11:00"})
    tt = compile_timetable([read_gtfs(tmp_path / "coach"), read_gtfs(shifted)], "2023-05-16")
    assert tt.feeds[1]["trips_in_an_earlier_feed"] == 1 and tt.feeds[1]["trips_used"] == 1


def test_an_older_vintage_keeps_only_the_coach_lines_the_newer_lacks(tmp_path: Path) -> None:
    new = coach_2023(tmp_path)  # stops P, R; coach trips
    old = tmp_path / "net_2019-09"
    old.mkdir()
    for f in ("agency.txt",):
        (old / f).write_text((new / f).read_text())
    # P again (served by the newer feed), S 20 km away (not served any more), T a train stop.
    (old / "stops.txt").write_text(
        "stop_id,stop_name,stop_lat,stop_lon\nP,Papa,45.70,4.952\nS,Sierra,45.88,4.952\n"
        "T,Tango,45.70,5.13\n"
    )
    (old / "routes.txt").write_text("route_id,route_type\nC,3\nK,2\nD,3\n")
    (old / "trips.txt").write_text("route_id,service_id,trip_id\nC,WK,C1\nK,WK,K1\nD,WK,D1\n")
    (old / "stop_times.txt").write_text(
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "C1,07:00:00,07:00:00,S,1\nC1,07:30:00,07:30:00,P,2\n"  # coach to a lost stop: kept
        "K1,07:00:00,07:00:00,P,1\nK1,07:20:00,07:20:00,T,2\n"  # train between served places
        "D1,07:05:00,07:05:00,P,1\nD1,07:25:00,07:25:00,T,2\n"  # coach over served places
    )
    (old / "calendar.txt").write_text(
        "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
        "WK,1,1,1,1,1,0,0,20190901,20191130\n"
    )
    from analysis.transit.timetable import load_timetable

    newer = tmp_path / "net_2023-04"
    new.rename(newer)
    tt = load_timetable([newer, old], None, use_cache=False)
    # 2023-04-18 lies in the zone A spring holidays (04-08 .. 04-24)
    assert tt.feed_days == [D(2023, 4, 25), D(2019, 11, 26)]
    f = tt.feeds[1]
    assert f["supplements"] == "net_2023-04" and f["service_label"] == "2019 service"
    assert f["trips_that_day"] == 3 and f["trips_used"] == 1
    kept = {t.split("@")[0] for t in tt.trip_id if t.startswith("net_2019-09:")}
    assert kept == {"net_2019-09:C1"}  # (and its next-day instance C1@+1)
    assert "2019 service" in tt.label
    # stops of the older feed only where its kept trips call
    assert sorted(s for s in tt.stop_id if s.startswith("net_2019")) == [
        "net_2019-09:P",
        "net_2019-09:S",
    ]


# ------------------------------------------------------------------ service level (item 3)
def test_a_thin_day_warns_with_the_numbers(tmp_path: Path) -> None:
    from analysis.transit.timetable import service_level

    f2 = coach_2023(tmp_path)
    (f2 / "trips.txt").write_text("route_id,service_id,trip_id\nZ,WK,Z1\nZ,WK2,Z2\n")
    cal = (f2 / "calendar.txt").read_text()
    (f2 / "calendar.txt").write_text(cal + "WK2,1,1,1,1,1,0,0,20230410,20230604\n")
    (f2 / "calendar_dates.txt").write_text("service_id,date,exception_type\nWK2,20230516,2\n")
    feed = read_gtfs(f2)
    thin = service_level(feed, D(2023, 5, 16))
    assert thin["trips"] == 1 and thin["usual_same_weekday"] == 2
    assert thin["weekdays_compared"] == 8
    assert "runs 1 trips on Tue 2023-05-16, 50% of its usual Tuesday (2 trips" in thin["warning"]
    assert service_level(feed, D(2023, 5, 23))["warning"] is None
    tt = compile_timetable([feed], "2023-05-16")
    assert tt.meta["warnings"] == [thin["warning"]]
    assert compile_timetable([feed], "2023-05-23").meta["warnings"] == []


def test_router_equals_brute_force_with_several_feeds_on_their_days(tmp_path: Path) -> None:
    """Tiny (2025) + coach (2023) + a twin of tiny (duplicates): router == brute force."""
    from analysis.transit.reference import brute_force_earliest_arrival, trip_order
    from analysis.transit.router import INF

    f2 = coach_2023(tmp_path)
    twin = copy_feed(TINY, tmp_path / "twin")
    probe = compile_timetable([read_gtfs(TINY)], "2025-02-11")
    rng = np.random.default_rng(7)
    ox = probe.stop_x + rng.normal(0, 300, probe.n_stops)
    oy = probe.stop_y + rng.normal(0, 300, probe.n_stops)
    comm = pd.DataFrame({"insee": [str(i) for i in range(len(ox))], "x_l93": ox, "y_l93": oy})
    m = build_transit_model(
        comm, gtfs_paths=[TINY, f2, twin], window=("06:30", "09:30"), step_min=7, use_cache=False
    )
    tt = m.timetable
    assert len(tt.feeds) == 3 and tt.feeds[2]["trips_in_an_earlier_feed"] > 0
    r = tt.stop_id.tolist().index("coach:R")
    sx, sy = np.array([tt.stop_x[r], ox[0]]), np.array([tt.stop_y[r], oy[0] + 5000])
    arrival, _ = m.arrivals(sx, sy)
    eg_t, eg_s, di_t, di_s = m.site_legs(sx, sy)
    legs, order = m.origin_legs, trip_order(tt)
    cap = m.departures[-1] + m.max_journey_s
    checked = 0
    for o in range(len(ox)):
        sl = slice(legs.indptr[o], legs.indptr[o + 1])
        for k, dep in enumerate(m.departures):
            want, _ = brute_force_earliest_arrival(
                tt, m.footpaths, departure=int(dep),
                access_stops=legs.target[sl], access_times=legs.time_s[sl],
                egress_time=eg_t, egress_site=eg_s, direct_time=int(di_t[o]),
                direct_site=int(di_s[o]), order=order,
            )  # fmt: skip
            got = int(arrival[o, k])
            assert got == want if want <= cap else (got == int(INF) or got > cap), (o, dep)
            checked += want < INF
    assert checked > 10
