"""``spro-access transit-check``: a valid feed is summarised, a bad date exits with code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis import settings
from analysis.cli import main

TINY = Path(__file__).parent / "data" / "gtfs_tiny"


@pytest.fixture(autouse=True)
def _processed_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "processed_data_dir", tmp_path / "processed")


def test_transit_check_tiny_feed(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["transit-check", "--gtfs", str(TINY), "--date", "2025-02-04", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "gtfs_tiny: valid GTFS" in out and "2025-02-01 to 2025-02-28" in out
    assert "note: 1 stop(s) used by trips have no coordinates" in out
    assert "GTFS gtfs_tiny on Tue 2025-02-04" in out
    assert "'beyond_walk'" in out


def test_transit_check_date_outside_calendar(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["transit-check", "--gtfs", str(TINY), "--date", "2025-04-01", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "valid from 2025-02-01 to 2025-02-28" in err


def test_transit_check_not_gtfs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "feed.zip"
    bad.write_text("not a zip")
    assert main(["transit-check", "--gtfs", str(bad), "--quiet"]) == 2
    assert "not a zip archive" in capsys.readouterr().err
