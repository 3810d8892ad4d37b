"""Shared fixtures: the real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def in_ci() -> bool:
    """Whether the tests run in CI (``CI=true``), where a missing browser is a failure."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def chromium_path() -> str:
    """Path of Debian's chromium; skip locally (fail in CI) when it is missing."""
    if not CHROMIUM.exists():
        msg = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
        if in_ci():
            pytest.fail(msg + " — CI must run the browser test")
        pytest.skip(msg)
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    return str(CHROMIUM)


def open_offline(tmp_path, chromium_path, html: str, script, *, name="page.html", wait=None):
    """Open ``html`` from a file in chromium; run ``script(tab)``.

    Returns ``(script's result, page errors, requests that left the page)``: anything but
    ``file:``, ``data:`` and ``about:`` URLs counts as leaving. ``wait``: a selector to wait
    for (attached) before the script runs.
    """
    from playwright.sync_api import sync_playwright

    page = tmp_path / name
    page.write_text(html, encoding="utf-8")
    errors: list[str] = []
    outside: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1100, "height": 800})
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            tab.on(
                "request",
                lambda req: (
                    None
                    if req.url.startswith(("file:", "data:", "about:"))
                    else outside.append(req.url)
                ),
            )
            tab.goto(page.as_uri())
            if wait is not None:
                tab.wait_for_selector(wait, state="attached", timeout=20_000)
            out = script(tab)
        finally:
            browser.close()
    return out, errors, outside


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run ``spro-access`` in-process; return the exit code, stdout and stderr."""
    from analysis.cli import main

    rc = main([str(a) for a in args])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def user_error(rc: int, err: str, *needles: str) -> str:
    """Check a user mistake on the command line: code 2, one ``error:`` line, no traceback."""
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1, lines
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]
