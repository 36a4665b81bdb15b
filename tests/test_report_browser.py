"""Acceptance of the audit page: the seeds' report opened in headless Chromium, as a reviewer would see it.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); skipped only when they are missing.
One browser for the module; the page is a local file and may fetch nothing (its CSP forbids it).
"""

import shutil

import polars as pl
import pytest

from fincorpus.config import Config
from fincorpus.pipeline import build
from fincorpus.report.html import anchor

from conftest import SEED_000, SEED_001, SEED_003, SEED_004

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1400")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = next((path for path in map(shutil.which, BROWSERS) if path), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.skip("no headless browser: install Debian's chromium and chromium-driver "
                    "(apt-get install -y chromium chromium-driver) to run the report's browser test")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    # An explicit driver path: Selenium Manager would otherwise try to download one.
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    yield driver
    driver.quit()


@pytest.fixture()
def seed_page(browser, seed_build):
    browser.get((seed_build.out / "report.html").as_uri())
    return browser


def _by_id(driver, element_id):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def _all(element, selector):
    from selenium.webdriver.common.by import By

    return element.find_elements(By.CSS_SELECTOR, selector)


def _style(driver, element, prop):
    return driver.execute_script("return getComputedStyle(arguments[0]).getPropertyValue(arguments[1])", element, prop)


def test_seed_report_shows_both_clusters(seed_page):
    cards = [card for card in _all(seed_page, "details.cluster") if card.is_displayed()]
    assert len(cards) == 2
    assert {SEED_001, SEED_004} == {card.find_element("css selector", "summary").text.split(" ")[0] for card in cards}


def test_diff_of_000_against_001_is_visible_with_shared_text_greyed(seed_page, tmp_path):
    diff = _by_id(seed_page, anchor("diff", SEED_000))
    seed_page.execute_script("arguments[0].scrollIntoView()", diff)
    assert diff.is_displayed() and f"{SEED_000} against {SEED_001}" in diff.text
    shared = next(cell for cell in _all(diff, "tr.shared td.member") if cell.text.strip())
    added = next(cell for cell in _all(diff, "tr.changed td.canonical") if cell.text.strip())
    assert shared.is_displayed() and added.is_displayed()
    assert _style(seed_page, shared, "color") != _style(seed_page, added, "color")
    assert _style(seed_page, added, "background-color") not in ("rgba(0, 0, 0, 0)", "transparent")
    assert seed_page.save_screenshot(str(tmp_path / "diff-000-001.png"))


def test_chrome_of_000_and_003_is_struck_through_in_their_text(seed_page, tmp_path):
    for doc_id in (SEED_000, SEED_003):
        seed_page.execute_script("location.hash = arguments[0]", anchor("doc", doc_id))
        view = _by_id(seed_page, anchor("doc", doc_id))
        struck = [element for element in _all(view, "del.removed") if element.is_displayed()]
        assert struck, doc_id
        assert "line-through" in _style(seed_page, struck[0], "text-decoration-line")
    banner = _all(_by_id(seed_page, anchor("doc", SEED_000)), "del.removed")
    assert any(element.text.startswith("您的浏览器禁用了JavaScript") for element in banner)
    assert seed_page.save_screenshot(str(tmp_path / "struck-000.png"))


def test_duplicates_table_filters_and_sorts_in_the_page(seed_page, seed_build):
    rows = lambda: [row.get_attribute("data-search").split(" ")[0]  # noqa: E731
                    for row in _all(seed_page, "#members tbody tr") if row.is_displayed()]
    similarity = dict(seed_build.tables.lineage.filter(pl.col("status") == "duplicate")
                      .select("doc_id", "similarity").iter_rows())
    least, most = sorted(similarity, key=similarity.get)
    assert rows() == [least, most]
    minimum = _by_id(seed_page, "filter-min")
    minimum.send_keys(f"{(similarity[least] + similarity[most]) / 2:.4f}")
    assert rows() == [most]
    minimum.clear()
    seed_page.execute_script("arguments[0].dispatchEvent(new Event('input'))", minimum)
    from selenium.webdriver.support.select import Select

    reasons = dict(seed_build.tables.lineage.filter(pl.col("status") == "duplicate").select("doc_id", "reason").iter_rows())
    choice = Select(_by_id(seed_page, "filter-reason"))
    for reason in sorted(set(reasons.values())):
        choice.select_by_value(reason)
        assert rows() == [doc_id for doc_id in (least, most) if reasons[doc_id] == reason]
    choice.select_by_value("")
    source = _by_id(seed_page, "filter-source")
    source.send_keys(SEED_000[:7])
    assert rows() == [SEED_000]
    source.clear()
    seed_page.execute_script("arguments[0].dispatchEvent(new Event('input'))", source)
    assert rows() == [least, most]
    jaccard = next(cell for cell in _all(seed_page, "#members thead th") if cell.text.startswith("Jaccard"))
    jaccard.click()
    jaccard.click()  # descending
    assert rows() == [most, least]


def test_page_loads_nothing_from_anywhere(seed_page):
    assert seed_page.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_document_with_a_script_tag_is_shown_as_text_not_run(browser, tmp_path):
    payload = '<script>document.title = "pwned"</script>'
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text(payload + "\n当前位置:首页/行业研究/报告详情/\n华泰研究认为算力需求将持续增长。",
                                           encoding="utf-8")
    build([tmp_path / "in"], tmp_path / "out", Config())
    browser.get((tmp_path / "out" / "report.html").as_uri())
    assert browser.title == "fincorpus audit report"
    assert payload in _by_id(browser, anchor("doc", "a.txt")).text
