"""The three planner pages through Streamlit's AppTest, on the bundled data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "app" / "pages"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TIMEOUT = 180  # the first page run loads the communes, the directory and the road model


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    from analysis import settings

    monkeypatch.setattr(settings, "use_network", False)


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_whatif_page_form_csv_closure_and_cards():
    at = page("2_Labelling_what-if.py")
    assert at.title[0].value.startswith("Labelling application")
    assert any("MODELLED" in w.value for w in at.warning)  # main roads, calibrated speeds
    assert any("modelled" in w.value for w in at.warning)  # real vs modelled sites
    # a candidate from the commune form, with a name that is HTML
    at.selectbox(key="wi_form_net").select("France Travail")
    commune = next(o for o in at.selectbox(key="wi_form_commune").options if "— 43157" in o)
    at.selectbox(key="wi_form_commune").select(commune)
    at.text_input(key="wi_form_name").input("<img src=x onerror=alert(1)>")
    at.button(key="wi_add_form").click().run()
    # candidates pasted as CSV: the bad row is named, the good one loads
    at.text_area(key="wi_csv_text").input(
        "name,network,commune\nGood,Mission Locale,Yssingeaux\nBad,Nope,Yssingeaux\n"
    )
    at.button(key="wi_load_csv").click().run()
    assert any("row 2" in w.value and "Nope" in w.value for w in at.warning)
    # a closure
    site = at.multiselect(key="wi_close").options[0]
    at.multiselect(key="wi_close").select(site)
    at.button(key="wi_evaluate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    labels = [m.label for m in at.metric]
    assert any(lab.startswith("Newly covered (modelled)") for lab in labels)
    assert any(lab.startswith("Losing cover (modelled)") for lab in labels)
    # the user's name is shown as text, never as HTML
    assert any("<img src=x" in t.value for t in at.text)
    assert all("<img" not in m.value for m in at.markdown)
    side = next(df.value for df in at.dataframe if "overlap_share" in df.value.index)
    assert side.shape[1] >= 3


def test_siting_page_runs_and_reports_bad_k():
    at = page("3_Permanence_siting.py")
    assert at.title[0].value.startswith("Permanence siting")
    m = metrics(at)
    assert any(k.startswith("Uncovered today (modelled)") for k in m)
    at.selectbox(key="si_network").select("France Travail").run()
    assert not at.exception, [e.value for e in at.exception]
    picks = next(df.value for df in at.dataframe if "marginal_gain" in df.value.columns)
    assert len(picks) == 5 and (picks["times_are"] == "modelled").all()
    assert any(k.startswith("Greedy's gap to the optimum") for k in metrics(at))
    at.multiselect(key="si_hosts").set_value(["france_services"])
    at.number_input(key="si_k").set_value(400).run()
    assert any("larger than the number of candidate sites" in e.value for e in at.error)


def test_caravane_page_plan_and_errors():
    at = page("4_Caravane_tours.py")
    assert at.title[0].value.startswith("Caravane")
    itinerary = next(df.value for df in at.dataframe if "arrive" in df.value.columns)
    assert (itinerary["kind"] == "stop").sum() >= 1
    assert any(k.startswith("Target people reached (modelled)") for k in metrics(at))
    at.number_input(key="ca_drive").set_value(10).run()
    assert any("half a day's driving" in e.value for e in at.error)
    at.number_input(key="ca_drive").set_value(240)
    at.radio(key="ca_bk").set_value("Point (lon, lat)").run()
    at.number_input(key="ca_lon").set_value(2.35)
    at.number_input(key="ca_lat").set_value(48.85).run()
    assert any("outside Auvergne-Rhône-Alpes" in e.value for e in at.error)


def test_caravane_page_season_at_colleges():
    """Collèges on school days (issue 13): a dated itinerary, pupils met, errors in words."""
    import datetime as dt

    at = page("4_Caravane_tours.py")
    assert at.radio(key="ca_at").value == "Collèges"
    at.date_input(key="ca_season").set_value((dt.date(2027, 2, 1), dt.date(2027, 3, 12)))
    at.number_input(key="ca_days_season").set_value(4).run()
    assert not at.exception, [e.value for e in at.exception]
    itinerary = next(df.value for df in at.dataframe if "arrive" in df.value.columns)
    assert sorted(set(itinerary["date"])) == [
        "2027-02-01",
        "2027-02-02",
        "2027-02-04",
        "2027-02-05",
    ]
    assert (itinerary.loc[itinerary["kind"] == "stop", "audience"] > 0).all()
    # the zone A winter holidays alone: no school day, said in words
    at.date_input(key="ca_season").set_value((dt.date(2027, 2, 15), dt.date(2027, 2, 26))).run()
    assert any("no school day" in e.value for e in at.error)
    # Wednesdays count when asked: the same window has more days
    at.date_input(key="ca_season").set_value((dt.date(2027, 2, 1), dt.date(2027, 2, 5)))
    at.number_input(key="ca_days_season").set_value(0)
    at.checkbox(key="ca_wed").check().run()
    stops = next(m for m in at.metric if m.label == "Stops")
    assert "of 5 day(s)" in stops.help  # Monday to Friday, Wednesday included
    # town halls as before
    at.radio(key="ca_at").set_value("Town halls").run()
    itinerary = next(df.value for df in at.dataframe if "arrive" in df.value.columns)
    assert (itinerary["date"] == "").all()
