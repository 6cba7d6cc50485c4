"""Opening a report in Debian's headless Chromium (driven by playwright's Python package;
playwright's own browser download is not used): what rendered, console errors, requests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@dataclass(frozen=True)
class Rendered:
    charts: int  # chart containers on the page
    drawn: list[int]  # per chart: SVG elements drawn (plotly draws traces as SVG paths)
    console_errors: list[str]
    requests: list[str]  # every URL the page asked for, the page itself included
    text: str  # the page's visible text


def open_report(path: Path, screenshot: Path, profile_dir: Path) -> Rendered:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} not found: run `bin/setup --tests` (installs Debian's chromium)",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile_dir), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1300, "height": 900},
        )
        try:
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_function(
                "[...document.querySelectorAll('.chart')].every(c => c.querySelector('svg'))",
                timeout=30_000,
            )
            page.wait_for_timeout(300)
            drawn = page.eval_on_selector_all(
                ".chart",
                "cs => cs.map(c => c.querySelectorAll('.plot path, .bars path, .scatterlayer"
                " path, .barlayer path').length)",
            )
            text = page.inner_text("body")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            context.close()
    return Rendered(len(drawn), list(drawn), errors, requests, text)
