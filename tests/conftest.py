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
