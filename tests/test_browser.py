"""The coverage page in a real browser: Debian's Chromium driven by Playwright.

Starts ``streamlit run app/Home.py`` on a free local port, opens it in headless Chromium
(``/usr/bin/chromium``; no browser download), checks that the map draws its layers with no
internet (no tiles, Leaflet served from the package), then changes the profile and the
threshold and checks that the map's layers, its legend and the headline figures follow.

Skipped when ``/usr/bin/chromium`` is missing, except in CI (``CI=true``), where a missing
browser is a failure. A screenshot is saved to ``test-artifacts/`` when a check fails.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from conftest import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app" / "Home.py"
ARTIFACTS = ROOT / "test-artifacts"
MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'
START_TIMEOUT_S = 60
LOAD_TIMEOUT_MS = 120_000  # first page: cold caches in the server (data, road model, map)
RERUN_TIMEOUT_MS = 60_000

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    env = dict(os.environ, SPRO_OFFLINE="1", STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    ARTIFACTS.mkdir(exist_ok=True)
    out = open(ARTIFACTS / "streamlit-server.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with code {proc.returncode}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer on {url} within {START_TIMEOUT_S} s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        out.close()


@pytest.fixture
def page(chromium_path, server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1440, "height": 1400})
        pg = ctx.new_page()
        pg.set_default_timeout(RERUN_TIMEOUT_MS)
        try:
            yield pg
        finally:
            ctx.close()
            browser.close()


@contextlib.contextmanager
def screenshot_on_failure(pg, name: str):
    """Save a full-page screenshot to ``test-artifacts/`` if the block fails."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(Exception):
            pg.screenshot(path=str(ARTIFACTS / f"{name}-failure.png"), full_page=True)
        raise


def _metric(pg, label_start: str) -> str:
    """Text of the headline metric whose label starts with ``label_start``."""
    for box in pg.locator('[data-testid="stMetric"]').all():
        label = box.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        if label.startswith(label_start):
            return box.locator('[data-testid="stMetricValue"]').inner_text().strip()
    raise AssertionError(f"no metric starting with {label_start!r}")


def _map_state(frame) -> dict:
    """Layers, legend and choropleth colours drawn in the map's iframe."""
    layers = [t.strip() for t in frame.locator(".leaflet-control-layers label").all_inner_texts()]
    legend = frame.locator(".spro-legend").inner_text()
    fills = frame.locator("path.leaflet-interactive").evaluate_all(
        "els => els.map(e => e.getAttribute('fill'))"
    )
    return {"layers": layers, "legend": legend, "fills": Counter(fills), "paths": len(fills)}


def _wait_map(pg, *, until=None, timeout_ms: int = RERUN_TIMEOUT_MS) -> dict:
    """Wait until the map is drawn, ``until(state)`` holds and the state is stable."""
    frame = pg.frame_locator(MAP_FRAME).first
    frame.locator(".spro-legend").wait_for(timeout=timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    previous = None
    while True:
        try:
            state = _map_state(frame)
        except Exception:  # the iframe is being replaced: read again
            state = None
        ready = (
            state is not None
            and state["paths"] >= 4025
            and any(x.startswith("Travel time") for x in state["layers"])
            and (until is None or until(state))
        )
        if ready and state == previous:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"map did not (re)draw as expected: {state}")
        previous = state if ready else None
        pg.wait_for_timeout(400)


def _wait_idle(pg) -> None:
    """Wait until Streamlit has finished the current run."""
    pg.wait_for_timeout(400)
    pg.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=RERUN_TIMEOUT_MS)


def test_map_layers_and_summary_follow_the_controls(page, server):
    with screenshot_on_failure(page, "test_browser"):
        _check_controls(page, server)


def _check_controls(pg, server: str) -> None:
    pg.goto(server, wait_until="domcontentloaded")
    first = _wait_map(pg, timeout_ms=LOAD_TIMEOUT_MS)
    _wait_idle(pg)

    # the map drew offline: every commune, the clusters, the sites by network, the legend
    layers = " | ".join(first["layers"])
    assert "Under-served clusters" in layers and "Sites —" in layers, layers
    assert "estimated" in first["legend"]
    assert len(first["fills"]) >= 3  # several time bands coloured
    banner = pg.locator('[data-testid="stAlert"]').first.inner_text().lower()
    assert "estimated" in banner and "modelled" in banner
    communes_before = _metric(pg, "Communes beyond")
    profile_before = pg.locator(".spro-sub").inner_text()

    # change the profile in the sidebar
    sidebar = pg.locator('[data-testid="stSidebar"]')
    sidebar.locator('[data-testid="stSelectbox"]').first.click()
    options = pg.locator('[role="option"]')
    options.first.wait_for()
    labels = options.all_inner_texts()
    target = next((t for t in labels if t.startswith("Job seekers")), labels[-1])
    options.filter(has_text=target).first.click()
    pg.locator(".spro-sub", has_text=target).wait_for(timeout=LOAD_TIMEOUT_MS)
    second = _wait_map(
        pg,
        until=lambda st: st["legend"] != first["legend"] and st["layers"] != first["layers"],
        timeout_ms=LOAD_TIMEOUT_MS,
    )
    _wait_idle(pg)
    assert pg.locator(".spro-sub").inner_text() != profile_before
    assert second["layers"] != first["layers"]  # other networks' site layers
    assert second["fills"] != first["fills"]  # other travel times
    communes_mid = _metric(pg, "Communes beyond")
    assert communes_mid != communes_before or second["legend"] != first["legend"]

    # raise the threshold with the keyboard (5-minute steps)
    m = re.search(r"beyond (\d+) min", second["legend"])
    assert m, second["legend"]
    thr = int(m.group(1))
    slider = sidebar.locator('[data-testid="stSlider"] input[type="range"]').first
    slider.focus()
    for _ in range(4):
        slider.press("ArrowRight")
    pg.locator('[data-testid="stMetric"]', has_text=f"Share beyond {thr + 20} min").wait_for(
        timeout=LOAD_TIMEOUT_MS
    )
    third = _wait_map(
        pg, until=lambda st: f"beyond {thr + 20} min" in st["legend"], timeout_ms=LOAD_TIMEOUT_MS
    )
    _wait_idle(pg)
    assert f"beyond {thr + 20} min" in third["legend"]
    communes_after = _metric(pg, "Communes beyond")
    to_int = lambda s: int(re.sub(r"\D", "", s))  # noqa: E731
    # a longer threshold flags fewer communes (unless none was flagged)
    assert to_int(communes_after) < to_int(communes_mid) or to_int(communes_mid) == 0
    assert third["fills"] != second["fills"]  # bands re-drawn around the new threshold

    # clicking a commune on the map shows its details
    card = pg.locator(".spro-card dd").first
    shown = card.inner_text()
    box = pg.locator(MAP_FRAME).first.bounding_box()
    for fx, fy in ((0.35, 0.62), (0.62, 0.35)):
        pg.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
        with contextlib.suppress(Exception):
            pg.wait_for_function(
                "t => document.querySelector('.spro-card dd')?.innerText !== t",
                arg=shown,
                timeout=20_000,
            )
        if card.inner_text() != shown:
            break
    assert card.inner_text() != shown, "clicking the map did not select a commune"
    assert re.search(r"\(\d[0-9AB]\d{3}\)$", card.inner_text())  # "Name (INSEE)"
    _wait_idle(pg)

    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "app_home.png"), full_page=True)
