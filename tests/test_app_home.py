"""The coverage page (app/Home.py) through Streamlit's AppTest, on the bundled data.

The first run loads the communes, the directory and the road model and computes one
coverage (tens of seconds on a cold cache); later runs in this process reuse Streamlit's
caches, so each test starts a fresh page cheaply.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app" / "Home.py"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIRST_TIMEOUT = 240  # cold caches: communes, directory, road model, adjacency, map
TIMEOUT = 60


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    # never probe a tile server from the tests
    from analysis import settings

    monkeypatch.setattr(settings, "use_network", False)


@pytest.fixture(scope="module")
def warm():
    """Fill the process-wide caches once (the first run is the slow one)."""
    at = AppTest.from_file(str(APP), default_timeout=FIRST_TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return True


def fresh(warm) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label_start: str) -> str:
    for m in at.metric:
        if m.label.startswith(label_start):
            return m.value
    raise AssertionError(f"no metric {label_start!r}: {[m.label for m in at.metric]}")


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no dataframe with column {column!r}")


def count(value: str) -> int:
    return int(value.replace(",", "").replace("\u202f", "").split()[0])


def test_page_runs_on_bundled_data(warm):
    at = fresh(warm)
    assert at.title[0].value.startswith("SPRO access")
    labels = [m.label for m in at.metric]
    for start in ("Share beyond", "People beyond", "Communes beyond", "Median", "P90", "Under"):
        assert any(lab.startswith(start) for lab in labels), labels
    summary = table_with(at, "share_beyond_pct")
    assert len(summary) == 12  # departments by default
    bands = table_with(at, "band")
    assert bands["communes"].sum() == 4025
    # the controls exist, with the profile's default threshold
    assert at.selectbox(key="profile").value
    assert at.radio(key="mode").value == "road"
    assert at.slider(key="threshold").value > 0
    assert at.selectbox(key="basemap").value == "none"  # offline default: no tiles
    # downloads of the current view
    labels = {b.proto.label for b in at.get("download_button")}
    assert {"Communes (CSV)", "Clusters (CSV)", "GeoPackage", "Map (HTML)"} <= labels


def test_banner_says_estimated_and_modelled(warm):
    at = fresh(warm)
    banners = " ".join(w.value for w in at.warning) + " ".join(i.value for i in at.info)
    assert "estimated" in banners.lower()
    assert "modelled" in banners.lower()
    assert "real" in banners.lower()
    # headline labelled: the default road model is the main roads, times "modelled"
    assert any("modelled times" in m.value for m in at.markdown)


def test_changing_profile_changes_summary_and_map_data(warm):
    at = fresh(warm)
    from analysis.profiles import load_profiles

    keys = list(load_profiles())
    first = at.selectbox(key="profile").value
    assert first in keys and len(keys) >= 2
    before_summary = table_with(at, "share_beyond_pct").copy()
    before_bands = table_with(at, "band").copy()
    before_sub = at.markdown
    other = "job_seekers" if "job_seekers" in keys and first != "job_seekers" else keys[1]
    at.selectbox(key="profile").set_value(other).run(timeout=FIRST_TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    after_summary = table_with(at, "share_beyond_pct")
    after_bands = table_with(at, "band")
    assert not before_summary.equals(after_summary)
    # the map's data (demand per time band = the choropleth colours) changed too
    assert not before_bands["demand"].equals(after_bands["demand"])
    assert [m.value for m in at.markdown] != [m.value for m in before_sub]


def test_threshold_changes_flagged_communes(warm):
    at = fresh(warm)
    at.slider(key="threshold").set_value(10).run(timeout=FIRST_TIMEOUT)
    low = count(metric(at, "Communes beyond"))
    bands_low = table_with(at, "band")
    at.slider(key="threshold").set_value(60).run(timeout=FIRST_TIMEOUT)
    high = count(metric(at, "Communes beyond"))
    bands_high = table_with(at, "band")
    assert not at.exception
    assert low > high  # a longer threshold flags fewer communes
    assert bands_low.loc[bands_low["beyond"], "communes"].sum() == low
    assert bands_high.loc[bands_high["beyond"], "communes"].sum() == high
    assert metric(at, "Share beyond").endswith("%")
    assert any(m.label.startswith("Share beyond 60 min") for m in at.metric)


def test_profile_change_resets_threshold_to_profile_default(warm):
    from analysis.profiles import load_profiles

    profiles = load_profiles()
    at = fresh(warm)
    at.slider(key="threshold").set_value(95).run()
    key = next(k for k in profiles if k != at.selectbox(key="profile").value)
    target = profiles[key]
    at.selectbox(key="profile").set_value(key).run(timeout=FIRST_TIMEOUT)
    assert at.slider(key="threshold").value == round(target.threshold("road"))


def test_summary_grouping_and_commune_details(warm):
    at = fresh(warm)
    at.radio(key="summary_by").set_value("urban_class").run()
    groups = set(table_with(at, "share_beyond_pct")["group"])
    assert groups <= {"urban centre", "intermediate", "rural"} and len(groups) == 3
    lyon = next(o for o in at.selectbox(key="commune").options if o.endswith("— 69123"))
    at.selectbox(key="commune").set_value(lyon).run()
    card = " ".join(m.value for m in at.markdown if "spro-card" in m.value)
    assert "Lyon (69123)" in card
    assert "Nearest site" in card and "min" in card


def test_transit_failure_reads_as_a_message(warm, monkeypatch):
    at = fresh(warm)
    if len(at.radio(key="mode").options) < 3:  # options are the labels shown
        pytest.skip("no transit module in this copy")
    from app import loaders

    def broken(*_a, **_k):
        raise RuntimeError("timetable not available")

    monkeypatch.setattr(loaders, "load_transit_model", broken)
    loaders.load_access_model.clear()  # only the (cheap) mode → model lookups
    at.radio(key="mode").set_value("transit").run()
    assert not at.exception, [e.value for e in at.exception]
    msgs = " ".join(e.value for e in at.error)
    assert "could not be computed" in msgs and "timetable not available" in msgs


def test_transit_mode_runs_and_labels_follow_the_model(warm):
    at = fresh(warm)
    if len(at.radio(key="mode").options) < 3:
        pytest.skip("no transit module in this copy")
    heads = [m.value for m in at.markdown if "Headline figures" in m.value]
    assert heads and "modelled times" in heads[0]  # road: the main roads, calibrated speeds
    at.radio(key="mode").set_value("transit").run(timeout=FIRST_TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    if at.error and "could not be computed" in " ".join(e.value for e in at.error):
        pytest.skip("no timetable here: " + at.error[0].value)
    from analysis.profiles import load_profiles

    prof = load_profiles()[at.selectbox(key="profile").value]
    assert at.slider(key="threshold").value == round(prof.threshold("transit"))
    heads = [m.value for m in at.markdown if "Headline figures" in m.value]
    assert heads and "estimated times" not in heads[0]  # timetable times are not estimated
    assert "modelled times" not in heads[0]
    bands = table_with(at, "band")
    assert bands["communes"].sum() == 4025


def test_map_payload_is_complete_and_offline(warm):
    """The map sent to the browser: data filled in, Leaflet inlined, nothing from a CDN."""
    from app import loaders

    profile = next(iter(loaders.load_profiles()))
    payload = loaders.map_payload(profile, "road", 30.0, "auto", "none")
    assert "fallback" not in payload  # the fast path works with this streamlit-folium
    assert "__spro_data_" not in payload["script"]
    assert payload["script"].count('"insee"') >= 4025
    assert payload["js_links"] and all(u.startswith("data:") for u in payload["js_links"])
    assert all(u.startswith("data:") for u in payload["css_links"])
    assert len(payload["script"]) < 4_000_000


def test_real_only_switch_leaves_out_modelled_sites(warm):
    at = fresh(warm)
    at.selectbox(key="profile").set_value("young_16_25").run(timeout=FIRST_TIMEOUT)
    with_modelled = count(metric(at, "Communes beyond"))
    at.toggle(key="include_modelled").set_value(False).run(timeout=FIRST_TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    real_only = count(metric(at, "Communes beyond"))
    # the modelled Mission Locale permanences cover communes the open data leaves far
    assert real_only > with_modelled
    subtitle = " ".join(m.value for m in at.markdown)
    assert "219 eligible sites" in subtitle


def test_data_quality_tab_lists_flags_found_in_the_real_files(warm):
    at = fresh(warm)
    dq = table_with(at, "meaning")
    flags = dict(zip(dq["flag"], dq["sites"], strict=True))
    # real cases the checks find in the bundled files
    assert flags["coords_far_from_commune"] >= 1
    assert flags["commune_corrected"] >= 1
    assert flags["stale_vintage"] > 0
    assert flags["modelled"] == 649  # issue 12: Avenir Actifs sized to 130 (rule AA-2, +118)
    at.toggle(key="include_modelled").set_value(False).run(timeout=FIRST_TIMEOUT)
    dq_real = table_with(at, "meaning")
    assert "modelled" not in set(dq_real["flag"])


def test_site_popups_carry_data_quality_flags():
    import pandas as pd

    from analysis.present.coverage_map import _site_features

    sites = pd.DataFrame(
        {
            "site_id": ["a"],
            "name": ["<b>x</b>"],
            "network": ["CIO"],
            "kind": ["main site"],
            "provenance": ["open-data:f.csv"],
            "flags": ["stale_vintage;commune_corrected"],
            "lon": [4.8],
            "lat": [45.7],
        }
    )
    props = _site_features(sites)["features"][0]["properties"]
    assert props["flags"] == "stale_vintage; commune_corrected"
    assert props["name"] == "&lt;b&gt;x&lt;/b&gt;"


def test_headline_resting_on_modelled_sites_shows_the_open_data_figure(warm):
    at = fresh(warm)
    at.selectbox(key="profile").set_value("young_16_25").run()
    assert not at.exception
    both = metric(at, "Share beyond 20 min · open data only")
    with_modelled, open_only = (float(v.split()[0]) for v in both.split(" · "))
    assert open_only > with_modelled  # modelled permanences only bring sites closer
    at.toggle(key="include_modelled").set_value(False).run()
    assert not at.exception
    single = metric(at, "Share beyond 20 min")
    assert "·" not in single and float(single.split()[0]) == open_only


def test_summary_by_density_level_and_frr(warm):
    """Issue 12: the official classes are a summary choice (INSEE 7 levels, FRR)."""
    at = fresh(warm)
    at.radio(key="summary_by").set_value("density").run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(df.value for df in at.dataframe if "share_beyond_pct" in df.value.columns)
    assert table["group"].iloc[0] == "1 grands centres urbains" and len(table) == 7
    at.radio(key="summary_by").set_value("frr").run()
    table = next(df.value for df in at.dataframe if "share_beyond_pct" in df.value.columns)
    assert set(table["group"]) == {"FRR", "outside FRR"}
