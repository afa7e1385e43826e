"""Headless Chromium for the webmail tests (Debian's chromium and chromedriver, driven by Selenium).

The `browser` fixture, waits, sign-in, axe-core (vendored under tests/web/vendor/axe-core, injected through
WebDriver, which is not subject to the page's CSP) and screenshots kept under tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMEDRIVER = shutil.which("chromedriver")
PATIENT_PASSWORD = "mot de passe de camille"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"
DESKTOP = (1280, 900)
PHONE = (360, 780)
# axe-core impacts that fail a page (docs/web.md: RGAA / WCAG 2.1 AA).
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="module")
def browser():
    if CHROMEDRIVER is None:
        pytest.fail("chromedriver is missing: install Debian's chromium and chromium-driver (.ci/debian-packages.txt)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--no-proxy-server", "--lang=fr-FR"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait(driver, predicate, timeout: float = 15):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: predicate(d))


def by_id(driver, element_id: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def css(driver, selector: str) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def visible_text(driver, element_id: str) -> str:
    element = by_id(driver, element_id)
    return element.text if element.is_displayed() else ""


def open_page(driver, port: int, fragment: str = "") -> None:
    driver.get(f"http://127.0.0.1:{port}/{fragment}")


def sign_in(driver, port: int, login: str, password: str = PATIENT_PASSWORD) -> None:
    if driver.current_url.startswith("http"):
        driver.execute_script("sessionStorage.clear()")
    open_page(driver, port)
    wait(driver, lambda d: by_id(d, "login-view").is_displayed())
    by_id(driver, "login").clear()
    by_id(driver, "login").send_keys(login)
    by_id(driver, "password").send_keys(password)
    by_id(driver, "login-form").submit()
    wait(driver, lambda d: by_id(d, "home-view").is_displayed())


def go(driver, fragment: str, shown: str) -> None:
    """Follow an in-page address (#messagerie...) and wait for the element `shown` to be displayed."""
    driver.execute_script("location.hash = arguments[0]", fragment)
    wait(driver, lambda d: by_id(d, shown).is_displayed())


def csp_violations(driver) -> list:
    return [e for e in driver.get_log("browser") if "Content Security Policy" in e.get("message", "")]


def axe_violations(driver) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',"
        " 'best-practice']}}).then((r) => done(r.violations)).catch((e) => done([{id: 'axe-error',"
        " impact: 'critical', help: String(e), nodes: []}]));")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n.get("target") for n in v.get("nodes", [])][:5]}
            for v in result if v.get("impact") in BLOCKING_IMPACTS]


def screenshot(driver, name: str, anchor: str | None = None) -> list[Path]:
    """The page at 1280 px and at 360 px wide, kept under tests/artifacts/web/; returns the files. With `anchor`
    (an element id), that element is scrolled to the top of the window first."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    files = []
    for label, (width, height) in (("1280", DESKTOP), ("360", PHONE)):
        driver.set_window_size(width, height)
        wait(driver, lambda d: d.execute_script("return window.innerWidth") <= width)
        if anchor:
            driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()", anchor)
        path = ARTIFACTS / f"{name}-{label}.png"
        driver.save_screenshot(str(path))
        files.append(path)
    driver.set_window_size(*DESKTOP)
    if anchor:
        driver.execute_script("window.scrollTo(0, 0)")
    return files


def overflows_horizontally(driver) -> bool:
    return driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth + 1")
