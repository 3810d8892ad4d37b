"""User text in the app is text, never markup: a real browser, a local listener.

A candidate list pasted into the what-if page carries Markdown that would draw a remote
image and a link (``![x](http://127.0.0.1:<port>/beacon.png)``) in the warning that names
the bad row. The page is opened in Debian's Chromium (Playwright); a local HTTP listener
counts every request the page makes to it. None may arrive, no image or link to it may
be in the page, and the warning shows the characters as typed.
"""

from __future__ import annotations

import http.server
import threading

import pytest
from conftest import CHROMIUM_ARGS
from test_browser import RERUN_TIMEOUT_MS, _free_port, screenshot_on_failure, server  # noqa: F401

pytestmark = pytest.mark.browser

#: The what-if page's tab holding the CSV upload and paste box.
TAB = "CSV of candidates"


@pytest.fixture
def listener():
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    port = _free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield port, hits
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_markdown_in_a_pasted_candidate_list_sends_no_request(chromium_path, server, listener):  # noqa: F811
    from playwright.sync_api import sync_playwright

    port, hits = listener
    beacon = f"http://127.0.0.1:{port}/beacon.png"
    link = f"http://127.0.0.1:{port}/link"
    payload = f"![x]({beacon}) [click me]({link})"
    csv_text = f"name,network,commune\nbad row,{payload},43157\ngood,Mission Locale,43157\n"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1440, "height": 1400})
        pg = ctx.new_page()
        pg.set_default_timeout(RERUN_TIMEOUT_MS)
        try:
            with screenshot_on_failure(pg, "test_browser_app_text"):
                pg.goto(server + "/Labelling_what-if", wait_until="domcontentloaded")
                pg.get_by_role("tab", name=TAB).wait_for()
                pg.get_by_role("tab", name=TAB).click()
                pg.get_by_text("…or paste the CSV here").wait_for()
                box = pg.locator("textarea").first
                box.fill(csv_text)
                box.press("Control+Enter")
                pg.get_by_role("button", name="Load candidates").click()
                alert = pg.locator('[data-testid="stAlert"]', has_text="row 1").first
                alert.wait_for()
                pg.wait_for_timeout(1500)
                shown = alert.inner_text().replace("\u2060", "")  # invisible word joiners
                assert payload in shown  # the characters, as typed
                # No image and no link at all: Streamlit's renderer also links bare URLs.
                assert pg.locator('img[src*="127.0.0.1"]').count() == 0
                assert alert.locator("a").count() == 0
                assert hits == []
        finally:
            ctx.close()
            browser.close()
