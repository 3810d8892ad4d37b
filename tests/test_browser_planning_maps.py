"""Planner maps open offline in a real browser: popups (folium.Popup) need no jQuery.

folium's ``Popup`` builds its content with jQuery's ``$``, which no CDN serves offline;
``analysis.present.inline_leaflet`` ships a tiny ``$`` shim with the vendored Leaflet. Without
it the map script stops at the first popup and the page shows an empty map.
"""

from __future__ import annotations

import functools

import pytest
from conftest import CHROMIUM_ARGS, open_offline

from analysis import present
from analysis.present.planner_maps import add_point, base_map

pytestmark = pytest.mark.browser


def test_planner_map_with_popups_runs_offline(tmp_path, chromium_path):
    from playwright.sync_api import sync_playwright

    m = base_map([4.80, 5.00], [45.70, 45.90], basemap="none")
    add_point(m, 4.80, 45.70, colour="#1f77b4", popup_lines=["<b>Site</b> & co", "APEC"])
    add_point(m, 5.00, 45.90, colour="#d62728", popup_lines=["Other"], label="2")
    page = tmp_path / "map.html"
    page.write_text(present.map_html(m), encoding="utf-8")
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page()
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            tab.goto(page.as_uri())
            tab.wait_for_selector("path.leaflet-interactive", timeout=20_000)
            n_markers = tab.locator("path.leaflet-interactive").count()
            # the map may still be settling (fit to bounds, context layers decoding): a click
            # during it can land beside the marker, so click again until the popup opens
            popup = ""
            for _ in range(4):
                tab.locator("path.leaflet-interactive").first.click(force=True)
                try:
                    popup = tab.locator(".leaflet-popup-content").inner_text(timeout=3_000)
                    break
                except Exception:  # playwright's TimeoutError: try the click once more
                    continue
        finally:
            browser.close()
    assert errors == []
    assert n_markers == 2
    assert "<b>Site</b> & co" in popup  # escaped: shown as text, not markup


#: A planner map, opened offline once its department borders are drawn.
_open = functools.partial(open_offline, name="map.html", wait="path.spro-dep")


_FIND_MAP = "Object.values(window).find(v => v instanceof L.Map)"


def test_planner_map_shows_department_borders_outlines_and_towns(tmp_path, chromium_path):
    from analysis.present.context import default_context
    from analysis.present.planner_maps import finish

    ctx = default_context()
    m = base_map([4.80, 5.00], [45.70, 45.90], basemap="none")
    add_point(m, 4.85, 45.75, colour="#1f77b4", popup_lines=["A site"])

    def script(tab):
        # a zoom without animation fires zoomend at once; offsetParent forces the layout
        visible_at = (
            "([lat, lon, z]) => { const m = " + _FIND_MAP + "; m.setView([lat, lon], z, "
            "{animate: false}); return [m.getZoom(), Array.from(document.querySelectorAll("
            "'.spro-town span')).filter(e => e.offsetParent !== null).map(e => e.textContent)]; }"
        )
        # the page's own fitBounds zooms with an animation: let it end first
        tab.wait_for_function(f"!{_FIND_MAP}._animatingZoom")
        z8, at8 = tab.evaluate(visible_at, [45.9, 4.6, 8])
        z10, at10 = tab.evaluate(visible_at, [45.75, 4.85, 10])
        assert (z8, z10) == (8, 10)
        # a click through a town label and the outlines still reaches the map
        tab.evaluate(f"window.__clicks = 0; {_FIND_MAP}.on('click', () => window.__clicks++)")
        lyon = tab.locator(".spro-town span", has_text="Lyon").first
        box = lyon.bounding_box()
        tab.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        return {
            "deps": tab.locator("path.spro-dep").count(),
            "dep_classes": tab.locator("path.spro-dep").evaluate_all(
                "els => els.map(e => e.getAttribute('class'))"
            ),
            "outlines": tab.locator("path.spro-outline").count(),
            "outline_len": tab.locator("path.spro-outline").first.evaluate(
                "e => e.getAttribute('d').length"
            ),
            "interactive": tab.locator("path.leaflet-interactive").count(),
            "labels": tab.locator(".spro-town").count(),
            "at8": at8,
            "at10": at10,
            "clicks": tab.evaluate("window.__clicks"),
        }

    got, errors, outside = _open(tmp_path, chromium_path, present.map_html(finish(m)), script)
    assert errors == [] and outside == []
    assert got["deps"] == 12
    assert sorted(c.split("spro-dep-")[1].split()[0] for c in got["dep_classes"]) == sorted(
        ctx.departments
    )
    assert got["outlines"] == 1 and got["outline_len"] > 10_000
    assert got["interactive"] == 1  # only the site: the context takes no mouse event
    assert got["labels"] == len(ctx.towns) == 43
    prefectures = {t.name for t in ctx.towns if t.prefecture}
    assert set(got["at8"]) == prefectures  # region view: prefectures only
    assert {"Lyon", "Villeurbanne", "Vénissieux"} <= set(got["at10"])  # zoomed in: all
    assert got["clicks"] == 1


def test_home_map_town_labels_over_the_choropleth_offline(tmp_path, chromium_path):
    from analysis.communes import load_communes
    from analysis.coverage import compute_coverage
    from analysis.inputs import load_sites
    from analysis.models import active_road_model
    from analysis.profiles import load_profiles

    communes = load_communes()
    sites = load_sites()
    result = compute_coverage(
        active_road_model(communes), sites, communes, load_profiles()["job_seekers"],
        threshold_min=30.0,
    )  # fmt: skip
    # a town name that is HTML: shown as text
    result.communes.loc[result.communes["insee"] == "15014", "nom"] = "<b>Aurillac</b>"
    m = present.coverage_map(result, present.web_base(communes), basemap="none")

    def script(tab):
        return {
            "deps": tab.locator('path[stroke="#37474f"]').count(),
            "labels": tab.locator(".spro-town span").all_text_contents(),
            "bold": tab.locator(".spro-town b").count(),
            "pane_z": tab.evaluate(
                "getComputedStyle(document.querySelector('.leaflet-sproTowns-pane')).zIndex"
            ),
        }

    got, errors, outside = _open(
        tmp_path, chromium_path, present.map_html(m), script, wait=".spro-town span"
    )
    assert errors == [] and outside == []
    assert got["deps"] == 12  # the home map's own department borders
    assert "Clermont-Ferrand" in got["labels"] and "Lyon" in got["labels"]
    assert "<b>Aurillac</b>" in got["labels"] and got["bold"] == 0
    assert int(got["pane_z"]) > 400  # over the choropleth


def test_site_dots_show_escaped_tooltips_offline(tmp_path, chromium_path):
    import pandas as pd

    from analysis.present.planner_maps import add_site_dots, finish

    sites = pd.DataFrame(
        {
            "lon": [4.60, 5.20, float("nan")],
            "lat": [45.60, 45.90, 45.0],
            "name": ["<i>Dot</i> & co", "Second", "No position"],
            "network": ["APEC", "APEC", "APEC"],
            "provenance": ["real", "modelled", "real"],
        }
    )
    m = base_map(sites["lon"][:2], sites["lat"][:2], basemap="none")
    add_site_dots(m, sites, name="Today's APEC sites")

    def script(tab):
        dots = tab.locator("path.leaflet-interactive")
        n = dots.count()
        dots.first.hover(force=True)
        tip = tab.locator(".leaflet-tooltip").inner_text(timeout=5_000)
        return {"n": n, "tip": tip, "italic": tab.locator(".leaflet-tooltip i").count()}

    got, errors, outside = _open(tmp_path, chromium_path, present.map_html(finish(m)), script)
    assert errors == [] and outside == []
    assert got["n"] == 2  # the site without a position is left out
    assert got["tip"] == "<i>Dot</i> & co (APEC, real)" and got["italic"] == 0


def test_streamlit_payload_of_the_what_if_click_map_draws_the_context(tmp_path, chromium_path):
    """The app sends streamlit-folium's renamed script (map_div…): the context must follow."""
    import sys
    from pathlib import Path

    import pandas as pd

    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from analysis.present.planner_maps import add_site_dots, finish
    from app import components

    sites = pd.DataFrame(
        {"lon": [4.6, 5.2], "lat": [45.6, 45.9], "name": ["A", "B"], "network": ["APEC"] * 2}
    )
    m = base_map(sites["lon"], sites["lat"], basemap="none")
    add_site_dots(m, sites, name="Today's APEC sites")
    p = components.map_payload(
        present.inline_leaflet(finish(m)), height=420, returned=("last_clicked",)
    )
    assert "fallback" not in p
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        + "".join(f'<link rel="stylesheet" href="{h}"/>' for h in p["css_links"])
        + "".join(f'<script src="{s}"></script>' for s in p["js_links"])
        + p["header"]
        + "</head><body>"
        + p["html"]
        + '<div id="map_div"></div>'  # the component's front end makes this div
        + "<script>"
        + p["script"]
        + "</script></body></html>"
    )

    def script(tab):
        return {
            "deps": tab.locator("path.spro-dep").count(),
            "labels": tab.locator(".spro-town").count(),
            "dots": tab.locator("path.leaflet-interactive").count(),
        }

    got, errors, outside = _open(tmp_path, chromium_path, page, script)
    assert errors == [] and outside == []
    assert got == {"deps": 12, "labels": 43, "dots": 2}
