"""A labelling report opens in a real browser: the map and the table render, nothing is fetched.

The report of one application of a synthetic call is written by the ``label-reports`` output
set, opened from disk in Debian's chromium (Playwright); every request the page makes is
recorded: only the page itself may be loaded.
"""

from __future__ import annotations

import pytest
from conftest import CHROMIUM_ARGS

from analysis.planning.labelling import evaluate_call, read_call_csv
from analysis.testing import synthetic_profiles, synthetic_region

pytestmark = pytest.mark.browser


def test_report_page_renders_map_and_table_offline(tmp_path, chromium_path):
    from playwright.sync_api import sync_playwright

    region = synthetic_region(9, 8, per_network=2, seed=7)
    c = region.communes
    csv = (
        "name,network,insee\n"
        f'"Perm <img src=x onerror=alert(1)>",Mission Locale,{c["insee"].iloc[13]}\n'
        f"Antenne,CIO,{c['insee'].iloc[40]}\n"
    )
    cands = read_call_csv(csv.encode(), c)
    call = evaluate_call(region.model, region.sites, c, cands, profiles=synthetic_profiles())
    files = call.export(tmp_path / "o")
    app = next(a for a in call.applications if a.candidate["name"].startswith("Perm"))
    page_path = tmp_path / "o" / f"{app.report}.html"
    assert page_path in files.values()
    n_new = app.changes.loc[
        (app.changes["mode"] == "road") & (app.changes["status_change"] == "newly covered"),
        "insee",
    ].nunique()
    assert n_new > 0

    requests: list[str] = []
    errors: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 900, "height": 1300})
            tab.on("request", lambda r: requests.append(r.url))
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            tab.goto(page_path.as_uri())
            tab.wait_for_load_state("load")
            svg = tab.locator("svg.commune-map")
            box = svg.bounding_box()
            drawn_new = tab.locator("svg.commune-map path.commune.new").count()
            # the newly covered communes are drawn, with a real size on screen
            first_new = tab.locator("svg.commune-map path.commune.new").first.bounding_box()
            fill = tab.locator("svg.commune-map path.commune.new").first.evaluate(
                "e => getComputedStyle(e).fill"
            )
            candidate = tab.locator("svg.commune-map circle.candidate").bounding_box()
            rows = tab.locator("table.figures tbody tr.card").count()
            cells = tab.locator("table.figures tbody tr.card").first.inner_text()
            title = tab.locator("h1").inner_text()
        finally:
            browser.close()
    assert errors == [] and dialogs == []
    assert requests == [page_path.as_uri()]  # no request leaves the page
    assert box is not None and box["width"] > 600 and box["height"] > 150
    assert drawn_new == n_new
    assert first_new is not None and first_new["width"] > 5 and first_new["height"] > 5
    assert fill == "rgb(27, 120, 55)"  # the newly covered colour
    assert candidate is not None and candidate["width"] > 5
    assert rows == len(app.cards) >= 2  # Mission Locale: young people and everyone
    assert " · " in cells and "min" in cells  # two numbers: modelled sites serve the profile
    assert "<img src=x onerror=alert(1)>" in title  # the user's text, shown as text
