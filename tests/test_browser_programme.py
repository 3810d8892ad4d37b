"""The caravane's printable programme and its map, opened offline in a real browser."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import open_offline

from analysis import present
from analysis.planning.caravane import plan_caravane
from analysis.testing import synthetic_profiles, synthetic_region

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def plan():
    region = synthetic_region(10, 8, per_network=2, seed=5)
    dates = [dt.date(2027, 1, 4), dt.date(2027, 1, 5), dt.date(2027, 1, 7)]
    return plan_caravane(
        region.model, region.sites, region.communes, base=region.communes["insee"].iloc[0],
        days=len(dates), stop_min=45, max_drive_min=150, profile="jeunes",
        profiles=synthetic_profiles(), reach_min=12, max_day_min=360, dates=dates,
    )  # fmt: skip


def test_programme_page_lists_each_dated_day_and_its_stops(plan, tmp_path, chromium_path):
    it = plan.itinerary
    stops = it[it["kind"] == "stop"]
    assert len(stops) > 0

    def read(tab):
        return {
            "headings": tab.locator("h2").all_inner_texts(),
            "rows": tab.locator(".day table tbody tr").count(),
            "text": tab.locator("body").inner_text(),
        }

    got, errors, outside = open_offline(
        tmp_path, chromium_path, plan.programme_html(), read, name="programme.html"
    )
    assert errors == [] and outside == []
    days_used = sorted(set(stops["day"]))
    dates = {d: str(it.loc[it["day"] == d, "date"].iloc[0]) for d in days_used}
    assert got["headings"] == [f"Day {d} — {dates[d]}" for d in days_used]
    assert got["rows"] == len(stops)  # one table row per stop, nothing else
    for name in stops["name"]:
        assert name in got["text"]
    assert f"Stops: {len(stops)}" in got["text"]


def test_programme_map_draws_the_base_each_stop_and_each_day(plan, tmp_path, chromium_path):
    it = plan.itinerary
    stops = it[it["kind"] == "stop"]
    n_days = stops["day"].nunique()

    def read(tab):
        tab.wait_for_selector("path.leaflet-interactive", state="attached", timeout=20_000)
        return tab.evaluate(
            """() => {
                const map = Object.values(window).find(v => v instanceof L.Map);
                let lines = 0, markers = 0;
                map.eachLayer(l => {
                    if (l instanceof L.CircleMarker) markers += 1;
                    else if (l instanceof L.Polyline && !(l instanceof L.Polygon)
                             && l.options.color !== undefined && l.getTooltip()) lines += 1;
                });
                return {lines, markers};
            }"""
        )

    got, errors, outside = open_offline(
        tmp_path, chromium_path, present.map_html(plan.map()), read, name="map.html"
    )
    assert errors == [] and outside == []
    assert got["markers"] == len(stops) + 1  # every stop and the base
    assert got["lines"] == n_days  # one tour line a day
