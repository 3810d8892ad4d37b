"""GTFS reading and validation: the tiny hand-built feed, bad inputs, calendars, caching."""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from analysis.errors import DataMissingError, ValidationError
from analysis.transit.gtfs import (
    check_date,
    parse_clock,
    parse_gtfs_date,
    parse_time_column,
    read_calendar_range,
    read_gtfs,
)
from analysis.transit.timetable import (
    DAY,
    Timetable,
    build_footpaths,
    compile_timetable,
    load_timetable,
)

TINY = Path(__file__).parent / "data" / "gtfs_tiny"


def hms(text: str) -> int:
    h, m, s = (int(x) for x in text.split(":"))
    return h * 3600 + m * 60 + s


def make_zip(folder: Path, target: Path, *, drop: str | None = None, subdir: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as z:
        for p in sorted(folder.glob("*.txt")):
            if p.name != drop:
                z.write(p, subdir + p.name)
    return target


def copy_feed(tmp_path: Path, **replace: str) -> Path:
    """Copy the tiny feed, replacing whole files (``stop_times="..."``)."""
    out = tmp_path / "feed"
    shutil.copytree(TINY, out)
    for name, text in replace.items():
        (out / f"{name}.txt").write_text(text, encoding="utf-8")
    return out


def edit_stop_times(tmp_path: Path, old: str, new: str) -> Path:
    text = (TINY / "stop_times.txt").read_text(encoding="utf-8")
    assert old in text
    return copy_feed(tmp_path, stop_times=text.replace(old, new))


# ---------------------------------------------------------------------------------- parsing
def test_parse_time_column_fast_and_slow_paths() -> None:
    vals = np.array(["07:05:00", "7:05:00", " 25:10:30 ", "", "100:00:00", "00:00:00"])
    out = parse_time_column(vals, source="f", column="t")
    assert out.tolist() == [25500, 25500, 90630, -1, 360000, 0]


@pytest.mark.parametrize("bad", ["07:65:00", "ab:cd:ef", "07-05-00", "07:05"])
def test_parse_time_column_malformed_names_row(bad: str) -> None:
    with pytest.raises(ValidationError) as e:
        parse_time_column(np.array(["07:00:00", bad]), source="x.zip:stop_times.txt", column="t")
    assert e.value.rows == [2]
    assert e.value.source == "x.zip:stop_times.txt"


def test_parse_time_column_negative() -> None:
    with pytest.raises(ValidationError, match="negative") as e:
        parse_time_column(np.array(["-01:00:00", "07:00:00"]), source="s", column="arrival_time")
    assert e.value.rows == [1]


def test_parse_clock_and_dates() -> None:
    assert parse_clock("07:00") == 25200
    assert parse_clock("25:30") == 91800
    assert parse_clock("08:00:30") == 28830
    with pytest.raises(ValidationError, match="HH:MM"):
        parse_clock("7h")
    assert parse_gtfs_date("2025-02-04") == dt.date(2025, 2, 4)
    assert parse_gtfs_date("20250204") == dt.date(2025, 2, 4)
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        parse_gtfs_date("04/02/2025")


# ---------------------------------------------------------------------------------- tiny feed
def test_tiny_feed_reads_and_records_fixes() -> None:
    feed = read_gtfs(TINY)
    assert feed.name == "gtfs_tiny"
    assert feed.date_range == (dt.date(2025, 2, 1), dt.date(2025, 2, 28))
    notes = " ".join(feed.notes)
    assert "placed at their station" in notes  # BP inherits ST_B's coordinates
    assert "NOC" in notes  # no coordinates, no station: left out
    assert "untimed" in notes  # X on T5
    assert "expanded into 3 trips" in notes  # frequencies.txt
    stops = feed.stops.set_index("stop_id")
    assert stops.loc["BP", "lon"] == pytest.approx(4.85)
    assert not stops.loc["NOC", "inside"]
    # Times past midnight are kept on the service day.
    t6 = feed.trips.index[feed.trips["trip_id"] == "T6"][0]
    st6 = feed.stop_times[feed.stop_times["trip"] == t6]
    assert st6["arr"].tolist() == [hms("23:40:00"), hms("24:10:00"), hms("24:40:00")]
    # Pickup / drop-off restrictions.
    t8 = feed.trips.index[feed.trips["trip_id"] == "T8"][0]
    assert feed.stop_times.loc[feed.stop_times["trip"] == t8, "dropoff"].tolist() == [
        True,
        False,
        True,
    ]


def test_zip_and_folder_read_the_same(tmp_path: Path) -> None:
    z = make_zip(TINY, tmp_path / "tiny.zip")
    nested = make_zip(TINY, tmp_path / "nested.zip", subdir="gtfs/")
    a, b, c = read_gtfs(TINY), read_gtfs(z), read_gtfs(nested)
    assert b.name == "tiny"
    for other in (b, c):
        assert other.stop_times.equals(a.stop_times)
        assert other.stops.drop(columns="inside").equals(a.stops.drop(columns="inside"))


def test_calendar_weekdays_and_exceptions() -> None:
    feed = read_gtfs(TINY)
    assert feed.active_services(dt.date(2025, 2, 4)) == {"WK"}  # Tuesday
    assert feed.active_services(dt.date(2025, 2, 5)) == set()  # WK removed that Wednesday
    assert feed.active_services(dt.date(2025, 2, 8)) == {"SAT"}  # added Saturday
    assert feed.active_services(dt.date(2025, 2, 9)) == set()  # Sunday
    assert read_calendar_range(TINY) == ("gtfs_tiny", dt.date(2025, 2, 1), dt.date(2025, 2, 28))


def test_compiled_day_includes_overnight_trips_of_the_day_before() -> None:
    feed = read_gtfs(TINY)
    tt = compile_timetable([feed], "2025-02-05")  # WK removed on the 5th, ran on the 4th
    today = tt.c_dep < DAY
    assert set(tt.trip_id[tt.c_trip[today]].tolist()) == {"gtfs_tiny:T6@-1"}
    # Only the part after midnight remains, shifted by -24 h: D 00:10 -> E 00:40.
    assert tt.c_dep[today].tolist() == [hms("00:10:00")]
    assert tt.c_arr[today].tolist() == [hms("00:40:00")]
    # Thursday's trips follow, shifted by +24 h.
    assert all(t.endswith("@+1") for t in tt.trip_id[tt.c_trip[~today]])
    # On Tuesday, what leaves after midnight is T6's own end (Wednesday runs nothing).
    tt = compile_timetable([feed], "2025-02-04")
    late = tt.c_dep >= DAY
    assert set(tt.trip_id[tt.c_trip[late]].tolist()) == {"gtfs_tiny:T6"}
    assert tt.c_dep[late].tolist() == [hms("24:10:00")]


def test_connections_sorted_and_stop_ids_prefixed() -> None:
    tt = compile_timetable([read_gtfs(TINY)], "2025-02-04")
    assert np.all(np.diff(tt.c_dep) >= 0)
    assert all(s.startswith("gtfs_tiny:") for s in tt.stop_id)
    assert "gtfs_tiny:NOC" not in set(tt.stop_id)
    # T2 rides through NOC: B 07:22 -> C 07:35 is one connection.
    b, c = list(tt.stop_id).index("gtfs_tiny:B"), list(tt.stop_id).index("gtfs_tiny:C")
    hit = (tt.c_dep_stop == b) & (tt.c_arr_stop == c)
    assert tt.c_dep[hit].tolist() == [hms("07:22:00")]


def test_footpaths_honour_transfers_txt() -> None:
    tt = compile_timetable([read_gtfs(TINY)], "2025-02-04")
    fp = build_footpaths(tt, min_transfer_s=180, max_transfer_walk_m=400)
    frm, to, t = fp.edges()
    ids = list(tt.stop_id)
    edge = {(ids[a], ids[b]): int(s) for a, b, s in zip(frm, to, t, strict=True)}
    assert edge[("gtfs_tiny:B", "gtfs_tiny:B")] == 180  # minimum transfer
    assert edge[("gtfs_tiny:B", "gtfs_tiny:BP")] == 180  # same place: minimum transfer
    assert edge[("gtfs_tiny:B", "gtfs_tiny:B2")] == 600  # transfers.txt type 2
    assert 180 < edge[("gtfs_tiny:B2", "gtfs_tiny:B")] < 260  # ~195 m x 1.3 at 1.25 m/s
    assert ("gtfs_tiny:A", "gtfs_tiny:B") not in edge


def test_date_outside_calendar_names_the_range() -> None:
    feed = read_gtfs(TINY)
    with pytest.raises(ValidationError, match=r"valid from 2025-02-01 to 2025-02-28") as e:
        check_date([feed], "2025-03-01")
    assert "2025-03-01" in str(e.value)
    with pytest.raises(ValidationError, match="2025-02-01 to 2025-02-28"):
        compile_timetable([feed], dt.date(2025, 1, 31))


def test_load_timetable_cache_roundtrip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from analysis import settings

    monkeypatch.setattr(settings, "processed_data_dir", tmp_path / "processed")
    a = load_timetable([TINY], "2025-02-04")
    files = sorted(p.name for p in (tmp_path / "processed" / "transit").iterdir())
    assert any(f.startswith("timetable_2025-02-04_") and f.endswith(".npz") for f in files)
    assert any(f.endswith(".sha256") for f in files)
    b = load_timetable([TINY], "2025-02-04")
    assert isinstance(b, Timetable)
    for k in ("c_dep", "c_arr", "c_dep_stop", "c_arr_stop", "c_trip", "c_pickup", "stop_id"):
        assert np.array_equal(getattr(a, k), getattr(b, k))
    assert b.date == dt.date(2025, 2, 4)
    with pytest.raises(ValidationError, match="valid from 2025-02-01 to 2025-02-28"):
        load_timetable([TINY], "2025-06-01")


# ---------------------------------------------------------------------------------- bad input
def test_not_a_zip(tmp_path: Path) -> None:
    bad = tmp_path / "feed.zip"
    bad.write_bytes(b"this is not a zip archive")
    with pytest.raises(ValidationError, match="not a zip archive") as e:
        read_gtfs(bad)
    assert e.value.source == str(bad)


def test_zip_without_gtfs_files(tmp_path: Path) -> None:
    z = tmp_path / "photos.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("readme.txt", "hello")
    with pytest.raises(ValidationError, match=r"not a valid GTFS feed: missing .*stops\.txt"):
        read_gtfs(z)


def test_missing_required_file(tmp_path: Path) -> None:
    z = make_zip(TINY, tmp_path / "f.zip", drop="stop_times.txt")
    with pytest.raises(ValidationError, match=r"missing required file\(s\) stop_times\.txt"):
        read_gtfs(z)


def test_missing_calendar(tmp_path: Path) -> None:
    folder = copy_feed(tmp_path)
    (folder / "calendar.txt").unlink()
    (folder / "calendar_dates.txt").unlink()
    with pytest.raises(ValidationError, match=r"calendar\.txt or calendar_dates\.txt"):
        read_gtfs(folder)


def test_missing_required_column(tmp_path: Path) -> None:
    text = (TINY / "stop_times.txt").read_text(encoding="utf-8")
    lines = [",".join(x.split(",")[:2] + x.split(",")[3:]) for x in text.splitlines()]
    folder = copy_feed(tmp_path, stop_times="\n".join(lines) + "\n")
    with pytest.raises(ValidationError, match=r"missing required column.*departure_time") as e:
        read_gtfs(folder)
    assert e.value.source == "feed:stop_times.txt"


def test_negative_stop_time_names_row(tmp_path: Path) -> None:
    folder = edit_stop_times(tmp_path, "T1,07:10:00,07:10:00,A", "T1,-07:10:00,07:10:00,A")
    with pytest.raises(ValidationError, match="negative arrival_time") as e:
        read_gtfs(folder)
    assert e.value.rows == [1]
    assert "stop_times.txt" in str(e.value) and "row 1" in str(e.value)


def test_unordered_stop_times_name_rows(tmp_path: Path) -> None:
    # T3 arrives at D (row 8) before it leaves B2 (row 7).
    folder = edit_stop_times(tmp_path, "T3,07:55:00,07:55:00,D", "T3,07:25:00,07:25:00,D")
    with pytest.raises(ValidationError, match="go back in time") as e:
        read_gtfs(folder)
    assert e.value.rows == [7, 8]


def test_departure_before_arrival(tmp_path: Path) -> None:
    folder = edit_stop_times(tmp_path, "T1,07:20:00,07:20:00,B", "T1,07:20:00,07:19:00,B")
    with pytest.raises(ValidationError, match="departure_time is before arrival_time") as e:
        read_gtfs(folder)
    assert e.value.rows == [2]


def test_duplicate_stop_sequence(tmp_path: Path) -> None:
    folder = edit_stop_times(tmp_path, "T1,07:20:00,07:20:00,B,2", "T1,07:20:00,07:20:00,B,1")
    with pytest.raises(ValidationError, match="stop_sequence appears twice") as e:
        read_gtfs(folder)
    assert e.value.rows == [1, 2]


def test_unknown_stop_and_trip(tmp_path: Path) -> None:
    folder = edit_stop_times(tmp_path, "T1,07:20:00,07:20:00,B,", "T1,07:20:00,07:20:00,ZZ,")
    with pytest.raises(ValidationError, match=r"stop_id 'ZZ' is not in stops\.txt") as e:
        read_gtfs(folder)
    assert e.value.rows == [2]
    folder = edit_stop_times(tmp_path / "2", "T9,07:40:00", "T99,07:40:00")
    with pytest.raises(ValidationError, match=r"trip_id 'T99' is not in trips\.txt"):
        read_gtfs(folder)


def test_untimed_first_stop(tmp_path: Path) -> None:
    folder = edit_stop_times(tmp_path, "T1,07:10:00,07:10:00,A", "T1,,,A")
    with pytest.raises(ValidationError, match="first and last stop") as e:
        read_gtfs(folder)
    assert e.value.rows == [1]


def test_bad_coordinates_and_calendar(tmp_path: Path) -> None:
    text = (TINY / "stops.txt").read_text(encoding="utf-8").replace("45.70,4.95", "145.70,4.95")
    with pytest.raises(ValidationError, match="latitude") as e:
        read_gtfs(copy_feed(tmp_path, stops=text))
    assert e.value.rows == [9]
    cd = "service_id,date,exception_type\nWK,20250205,3\n"
    with pytest.raises(ValidationError, match="exception_type") as e:
        read_gtfs(copy_feed(tmp_path / "2", calendar_dates=cd))
    assert e.value.rows == [1]
    cal = (TINY / "calendar.txt").read_text(encoding="utf-8").replace("20250228", "2025-02-30")
    with pytest.raises(ValidationError, match="end_date") as e:
        read_gtfs(copy_feed(tmp_path / "3", calendar=cal))


def test_missing_feed_path(tmp_path: Path) -> None:
    with pytest.raises(DataMissingError):
        read_gtfs(tmp_path / "nope.zip")
