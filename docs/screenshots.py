"""Regenerate the README's screenshots of the audit report on the seeds: `python3 docs/screenshots.py`.

Needs Debian's `chromium` and `chromium-driver` (and `fonts-noto-cjk` for the Chinese glyphs). Builds the
seeds into a temporary directory without Prefect, opens its report.html headless and saves three PNGs here.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

from fincorpus.config import Config  # noqa: E402
from fincorpus.pipeline import build  # noqa: E402
from fincorpus.report.html import anchor  # noqa: E402

SEED_000 = "000_026009f8569fc96f.txt"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out"
        build([DOCS.parent.parent / "shared" / "seeds"], out, Config())
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or shutil.which("google-chrome") or "chromium"
        for flag in (*FLAGS, f"--user-data-dir={Path(scratch) / 'profile'}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
        try:
            driver.set_window_size(1280, 1250)
            driver.get((out / "report.html").as_uri())
            driver.save_screenshot(str(DOCS / "report-summary.png"))
            driver.set_window_size(1280, 900)
            driver.execute_script("location.hash = arguments[0]", anchor("diff", SEED_000))
            driver.save_screenshot(str(DOCS / "report-diff.png"))
            driver.execute_script("location.hash = arguments[0]", anchor("doc", SEED_000))
            driver.execute_script("window.scrollBy(0, -60)")  # after the page's own scroll to the anchor
            driver.save_screenshot(str(DOCS / "report-struck.png"))
        finally:
            driver.quit()
    for name in ("report-summary.png", "report-diff.png", "report-struck.png"):
        print(DOCS / name)


if __name__ == "__main__":
    main()
