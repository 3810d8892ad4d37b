"""Planner maps open offline in a real browser: popups (folium.Popup) need no jQuery.

folium's ``Popup`` builds its content with jQuery's ``$``, which no CDN serves offline;
``analysis.present.inline_leaflet`` ships a tiny ``$`` shim with the vendored Leaflet. Without
it the map script stops at the first popup and the page shows an empty map.
"""

from __future__ import annotations

import pytest
from conftest import CHROMIUM_ARGS

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
            tab.locator("path.leaflet-interactive").first.click(force=True)
            popup = tab.locator(".leaflet-popup-content").inner_text(timeout=5_000)
        finally:
            browser.close()
    assert errors == []
    assert n_markers == 2
    assert "<b>Site</b> & co" in popup  # escaped: shown as text, not markup
