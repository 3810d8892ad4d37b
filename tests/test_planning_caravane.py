"""Caravane tours on synthetic regions: limits respected, reach recomputed, errors."""

import numpy as np
import pandas as pd
import pytest

from analysis.errors import UnknownNameError, ValidationError
from analysis.planning.caravane import plan_caravane, resolve_base
from analysis.testing import synthetic_profiles, synthetic_region


@pytest.fixture(scope="module")
def region():
    return synthetic_region(10, 8, per_network=2, seed=5)


def clock(s):
    h, m = s.split(" ")[0].split(":")
    return int(h) * 60 + int(m)


@pytest.mark.parametrize(
    ("days", "drive", "stop", "max_day", "per_day"),
    [(1, 120, 60, None, None), (2, 150, 45, 360, None), (3, 90, 30, None, 2)],
)
def test_plan_respects_limits_and_reaches_what_it_says(region, days, drive, stop, max_day, per_day):
    profiles = synthetic_profiles()
    res = plan_caravane(
        region.model, region.sites, region.communes, base=region.communes["insee"].iloc[0],
        days=days, stop_min=stop, max_drive_min=drive, profile="jeunes", profiles=profiles,
        reach_min=12, max_day_min=max_day, max_stops_per_day=per_day,
    )  # fmt: skip
    it = res.itinerary
    assert res.summary["stops"] > 0
    model = region.model
    c = region.communes.set_index("insee")
    for _, g in it.groupby("day"):
        assert g["kind"].iloc[0] == "depart" and g["kind"].iloc[-1] == "return"
        stops = g[g["kind"] == "stop"]
        if per_day:
            assert len(stops) <= per_day
        assert g["drive_min"].sum() <= drive + 1e-6
        assert g["drive_min"].sum() == pytest.approx(g["day_drive_min"].iloc[0], abs=0.2)
        # legs are the road model's times between consecutive points
        pts = [res.base["insee"], *stops["insee"], res.base["insee"]]
        for a, b, leg in zip(pts[:-1], pts[1:], g["drive_min"].iloc[1:], strict=True):
            t = model.nearest(np.array([c.loc[b, "x_l93"]]), np.array([c.loc[b, "y_l93"]]))
            row = region.communes.index[region.communes["insee"] == a][0]
            # time from commune a's node to b: origin offset removed
            want = (t.time_s[row] - model.origin_offsets_s[row]) / 60
            assert leg == pytest.approx(want, abs=0.06)
        # clock: departure + driving + stops
        arrive_back = clock(g["arrive"].iloc[-1])
        total = g["drive_min"].sum() + stop * len(stops)
        assert arrive_back - clock("09:00") == pytest.approx(total, abs=1.01)
        if max_day:
            assert total <= max_day + 1e-6
        for _, s in stops.iterrows():
            assert clock(s["depart"]) - clock(s["arrive"]) == stop
    # reached target people: communes under-served today within reach of a stop
    prof = profiles["jeunes"]
    elig = region.sites[region.sites["network"].isin(prof.networks)]
    today = model.nearest(elig["x_l93"].to_numpy(), elig["y_l93"].to_numpy()).time_s
    target = np.where(today > 60 * prof.thresholds_min["road"], res.communes["demand"], 0.0)
    stops = it[it["kind"] == "stop"]
    sc = c.loc[stops["insee"]]
    t = np.min(
        [model.nearest(np.array([x]), np.array([y])).time_s for x, y in
         zip(sc["x_l93"], sc["y_l93"], strict=True)],
        axis=0,
    )  # fmt: skip
    reached = target[t <= 12 * 60].sum()
    assert res.summary["target_reached"] == pytest.approx(reached)
    assert stops["target_reached"].sum() == pytest.approx(reached)
    assert (it["times_are"] == "estimated").all()


def test_day_order_is_optimal_for_its_stops(region):
    res = plan_caravane(
        region.model, region.sites, region.communes, base=region.communes["nom"].iloc[40],
        days=1, stop_min=20, max_drive_min=240, profile="jeunes",
        profiles=synthetic_profiles(), reach_min=10,
    )  # fmt: skip
    it = res.itinerary
    assert (it["kind"] == "stop").sum() >= 2
    # no pair of stops swapped gives a shorter day
    from itertools import permutations

    stops = list(it.loc[it["kind"] == "stop", "insee"])
    if len(stops) <= 7:
        c = region.communes.set_index("insee")
        pts = [res.base["insee"], *stops]
        m = np.zeros((len(pts), len(pts)))
        for i, a in enumerate(pts):
            row = region.communes.index[region.communes["insee"] == a][0]
            for j, b in enumerate(pts):
                if i != j:
                    t = region.model.nearest(
                        np.array([c.loc[b, "x_l93"]]), np.array([c.loc[b, "y_l93"]])
                    )
                    m[i, j] = t.time_s[row] - region.model.origin_offsets_s[row]
        best = min(
            sum(m[a, b] for a, b in zip((0, *p), (*p, 0), strict=True))
            for p in permutations(range(1, len(pts)))
        )
        assert it["drive_min"].sum() == pytest.approx(best / 60, abs=0.1)


def test_infeasible_limits_are_reported(region):
    kw = {"days": 2, "stop_min": 60, "profile": "jeunes", "profiles": synthetic_profiles()}
    args = (region.model, region.sites, region.communes)
    base = region.communes["insee"].iloc[0]
    # a base next to a Mission Locale (covered), a reach of 1 min (each stop reaches its own
    # under-served commune only), 2 min of driving a day: no stop can be served
    covered_base = region.sites.loc[region.sites["network"] == "Mission Locale", "insee"].iloc[0]
    with pytest.raises(ValidationError, match="half a day's driving"):
        plan_caravane(*args, base=covered_base, max_drive_min=2, reach_min=1, **kw)
    far = region.communes["insee"].iloc[-1]
    with pytest.raises(ValidationError, match=rf"\({far}\).*half a day's driving"):
        plan_caravane(*args, base=base, max_drive_min=60, stops=[far], **kw)
    res = plan_caravane(*args, base=base, max_drive_min=60, reach_min=10, **kw)
    assert any("half a day's driving" in n for n in res.notes)
    assert res.excluded["reason"].str.contains("half a day").any()
    with pytest.raises(ValidationError, match="longer than"):
        plan_caravane(*args, base=base, max_drive_min=60, max_day_min=30, **kw)


def test_imposed_stops_that_do_not_fit(region):
    near = list(region.communes["insee"].iloc[[1, 2, 11, 12]])
    with pytest.raises(ValidationError, match="do not fit"):
        plan_caravane(
            region.model, region.sites, region.communes, base=region.communes["insee"].iloc[0],
            days=1, stop_min=60, max_drive_min=240, max_stops_per_day=2, stops=near,
            profile="jeunes", profiles=synthetic_profiles(),
        )  # fmt: skip
    res = plan_caravane(
        region.model, region.sites, region.communes, base=region.communes["insee"].iloc[0],
        days=2, stop_min=60, max_drive_min=240, max_stops_per_day=2, stops=near,
        profile="jeunes", profiles=synthetic_profiles(),
    )  # fmt: skip
    assert sorted(res.itinerary.loc[res.itinerary["kind"] == "stop", "insee"]) == sorted(near)


def test_base_checks(region):
    communes = region.communes
    with pytest.raises(ValidationError, match="outside Auvergne-Rhône-Alpes"):
        resolve_base((2.35, 48.85), communes)  # Paris
    with pytest.raises(ValidationError, match="did you mean Commune 012"):
        resolve_base("Commune 0012", communes)
    b = resolve_base((float(communes["lon"].iloc[3]), float(communes["lat"].iloc[3])), communes)
    assert b["insee"] == communes["insee"].iloc[3]
    with pytest.raises(UnknownNameError, match="valid profiles are"):
        plan_caravane(
            region.model, region.sites, communes, base=communes["insee"].iloc[0], days=1,
            stop_min=30, max_drive_min=60, profile="nobody", profiles=synthetic_profiles(),
        )  # fmt: skip


def test_export(region, tmp_path):
    res = plan_caravane(
        region.model, region.sites, region.communes, base=region.communes["insee"].iloc[5],
        days=2, stop_min=45, max_drive_min=120, profile="jeunes",
        profiles=synthetic_profiles(),
    )  # fmt: skip
    files = res.export(tmp_path / "c")
    it = pd.read_csv(files["itinerary_csv"])
    assert {"day", "seq", "name", "arrive", "depart", "target_reached"} <= set(it.columns)
    assert it["run_provenance"].str.contains("ESTIMATED").all()
    assert "ESTIMATED" in files["map_html"].read_text(encoding="utf-8")


def test_school_days_of_a_season():
    import datetime as dt

    from analysis.errors import ValidationError
    from analysis.planning.school_days import school_days

    days = school_days("2027-01-04", "2027-03-31")
    assert dt.date(2027, 2, 16) not in days  # zone A winter holidays
    assert dt.date(2027, 3, 29) not in days  # Easter Monday
    assert all(d.weekday() in (0, 1, 3, 4) for d in days)  # no Wednesday unless asked
    assert len(school_days("2027-01-04", "2027-03-31", wednesdays=True)) > len(days)
    with pytest.raises(ValidationError, match="no school day"):
        school_days("2027-02-15", "2027-02-26")
    with pytest.raises(ValidationError, match="before it starts"):
        school_days("2027-03-01", "2027-02-01")
    with pytest.raises(ValidationError, match="not a date"):
        school_days("01/04/2027", "2027-03-31")


def test_a_dated_programme_at_colleges(tmp_path):
    from analysis.communes import load_communes
    from analysis.inputs import load_sites
    from analysis.models import active_road_model
    from analysis.planning.caravane import college_stops, plan_caravane
    from analysis.planning.school_days import school_days

    communes = load_communes()
    dates = school_days("2027-01-04", "2027-01-15")
    res = plan_caravane(
        active_road_model(communes), load_sites(), communes, base="Clermont-Ferrand", days=1,
        dates=dates, stop_min=120, max_drive_min=240, profile="pupils",
        stop_points=college_stops(), max_stops_per_day=2,
    )  # fmt: skip
    stops = res.itinerary[res.itinerary["kind"] == "stop"]
    assert len(stops) > 0 and stops["stop_id"].str.len().gt(0).all()
    assert set(stops["date"]) <= {str(d) for d in dates}
    assert stops["stop_id"].str.split("-").str[-1].is_unique  # each collège at most once
    assert (stops["audience"] > 0).all() and res.summary["audience_met"] > 0
    files = res.export(tmp_path)
    html = files["programme_html"].read_text(encoding="utf-8")
    assert str(dates[0]) in html and "<script" not in html


def test_a_stop_is_visited_once_unless_more_visits_are_asked(region):
    """Each stop at most once by default; with max_visits=2 some come back on another day."""
    profiles = synthetic_profiles()
    stops = region.communes.iloc[::9][["insee", "nom", "x_l93", "y_l93"]].reset_index(drop=True)
    points = pd.DataFrame(
        {
            "stop_id": [f"S{i}" for i in range(len(stops))],
            "name": stops["nom"],
            "insee": stops["insee"],
            "x_l93": stops["x_l93"],
            "y_l93": stops["y_l93"],
            "audience": 100.0,
        }
    )
    kw = dict(
        base=region.communes["insee"].iloc[0], days=12, stop_min=30, max_drive_min=200,
        profile="jeunes", profiles=profiles, reach_min=12, stop_points=points,
    )  # fmt: skip
    once = plan_caravane(region.model, region.sites, region.communes, **kw)
    twice = plan_caravane(region.model, region.sites, region.communes, max_visits=2, **kw)
    ids = lambda res: res.itinerary.loc[res.itinerary["kind"] == "stop", "stop_id"]  # noqa: E731
    key = lambda res: ids(res).str.split("-", n=1).str[1]  # noqa: E731 - the point, not the visit
    assert key(once).is_unique
    counts = key(twice).value_counts()
    assert counts.max() == 2 and (counts == 2).any()
    it = twice.itinerary[twice.itinerary["kind"] == "stop"]
    for _, g in it.assign(point=key(twice).to_numpy()).groupby("point"):
        assert g["day"].is_unique  # a revisit is on another day
    # pupils met count each stop's people once; the target reached is the same people
    assert twice.summary["audience_met"] == 100.0 * counts.size
    assert twice.summary["target_reached"] == pytest.approx(
        once.summary["target_reached"], rel=0.25
    )
    with pytest.raises(ValidationError, match="visits per stop"):
        plan_caravane(region.model, region.sites, region.communes, max_visits=0, **kw)
