"""The caravane at collèges from the command line: season, school days, UAI lists.

Rows CLI-20 to CLI-22 of docs/bad_inputs.md.
"""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from analysis.cli import main
from analysis.errors import ValidationError
from analysis.planning.season import parse_season, read_college_list, season_dates


def _run(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["caravane", *args])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_a_dated_programme_at_colleges_on_school_days(tmp_path, capsys):
    out = tmp_path / "c"
    rc, text, err = _run(capsys, "--base", "Le Puy-en-Velay", "--profile", "pupils",
                         "--at", "colleges", "--season", "2027-02-01:2027-03-12",
                         "--days", "4", "--out", str(out))  # fmt: skip
    assert rc == 0, err
    with open(out / "itinerary.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    dates = sorted({r["date"] for r in rows})
    # Zone A winter holidays 2027: 13 February - 1 March; the first four school days of the window
    # (Wednesdays left out) are 1, 2, 4 and 5 February.
    assert dates == ["2027-02-01", "2027-02-02", "2027-02-04", "2027-02-05"]
    stops = [r for r in rows if r["kind"] == "stop"]
    assert stops and all(len(r["stop_id"].split("-", 1)[1]) == 8 for r in stops)  # UAI codes
    assert len({r["stop_id"].split("-", 1)[1] for r in stops}) == len(stops)  # once a season
    assert all(float(r["audience"]) > 0 for r in stops)  # pupils met at each collège
    assert (out / "programme.html").is_file()
    assert "pupils met" in text and "2027-02-01 (day 1)" in text


def test_cli_20_a_season_with_no_school_day(capsys):
    rc, _, err = _run(capsys, "--base", "Le Puy-en-Velay", "--profile", "pupils", "--at",
                      "colleges", "--season", "2027-02-15:2027-02-26")  # fmt: skip
    assert rc == 2 and "no school day in zone A" in err and "Traceback" not in err


def test_cli_21_a_college_list_with_bad_uai_codes(tmp_path, capsys):
    bad = tmp_path / "list.csv"
    bad.write_text("uai,name\n0430027K,x\n0430027X,y\n123,z\n", encoding="utf-8")
    rc, _, err = _run(capsys, "--base", "Le Puy-en-Velay", "--profile", "pupils", "--at",
                      "colleges", "--colleges", str(bad), "--days", "1")  # fmt: skip
    assert rc == 2 and "list.csv" in err and "row 2" in err and "row 3" in err
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("uai\n0750001U\n", encoding="utf-8")  # well formed, not in the region
    rc, _, err = _run(capsys, "--base", "Le Puy-en-Velay", "--profile", "pupils", "--at",
                      "colleges", "--colleges", str(unknown), "--days", "1")  # fmt: skip
    assert rc == 2 and "unknown.csv" in err and "row 1" in err


def test_cli_22_a_base_outside_the_region_and_too_few_school_days(capsys):
    rc, _, err = _run(capsys, "--base", "3.0,50.0", "--profile", "pupils", "--at", "colleges",
                      "--days", "1")  # fmt: skip
    assert rc == 2 and "outside Auvergne-Rhône-Alpes" in err
    rc, _, err = _run(capsys, "--base", "Le Puy-en-Velay", "--profile", "pupils", "--at",
                      "colleges", "--season", "2027-01-04:2027-01-08", "--days", "9")  # fmt: skip
    assert rc == 2 and "fewer than the 9 asked" in err
    rc, _, err = _run(capsys, "--base", "Le Puy-en-Velay", "--profile", "pupils")
    assert rc == 2 and "--days N" in err


def test_a_users_college_list_restricts_the_stops(tmp_path, capsys):
    from analysis.planning.caravane import college_stops

    near = college_stops()
    near = near[near["insee"].str.startswith("43")].head(3)["stop_id"].tolist()
    mine = tmp_path / "mine.csv"
    mine.write_text("uai\n" + "\n".join(u.lower() for u in near) + "\n", encoding="utf-8")
    assert read_college_list(mine) == near
    out = tmp_path / "c"
    rc, _, err = _run(capsys, "--base", "Le Puy-en-Velay", "--profile", "pupils", "--at",
                      "colleges", "--colleges", str(mine), "--days", "2",
                      "--out", str(out))  # fmt: skip
    assert rc == 0, err
    with open(out / "itinerary.csv", encoding="utf-8") as f:
        used = {r["stop_id"].split("-", 1)[1] for r in csv.DictReader(f) if r["kind"] == "stop"}
    assert used and used <= set(near)


def test_season_parsing_and_counts():
    assert parse_season("2027-01-04:2027-03-31") == (dt.date(2027, 1, 4), dt.date(2027, 3, 31))
    start, end = parse_season(None, today=dt.date(2026, 12, 3))
    assert (start, end) == (dt.date(2027, 1, 4), dt.date(2027, 3, 31))
    with pytest.raises(ValidationError, match="START:END"):
        parse_season("2027-01-04")
    four = season_dates("2027-01-04", "2027-01-08", wednesdays=True)
    assert len(four) == 5 and len(season_dates("2027-01-04", "2027-01-08")) == 4
    assert season_dates("2027-01-04", "2027-03-31", days=3) == [
        dt.date(2027, 1, 4), dt.date(2027, 1, 5), dt.date(2027, 1, 7)
    ]  # fmt: skip
