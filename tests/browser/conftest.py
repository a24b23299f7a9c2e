"""Browser tests: Playwright drives Debian's Chromium (/usr/bin/chromium, installed by the test
command; Playwright's own browser download is never used) against the whole system started as in
the README (tests/system_fixture.py). Screenshots of each main screen are kept under
test-artifacts/screenshots/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from system_fixture import system  # noqa: F401  (the fixture, one definition)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's Chromium is missing at {CHROMIUM}: ./run-tests installs it (apt-get install chromium)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()
