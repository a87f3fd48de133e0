"""Headless Chromium for the tests (and the benchmark) of `kws mark`'s page, driven by selenium.
`chromium()` opens a session (selenium's `Chrome` driver); beside it, what the tests do in one call
that selenium spells in several: wait for a condition in the page, press keys on it, click or type
into the element a CSS selector finds.

    with chromium() as browser:
        browser.get(url)
        wait(browser, "document.body.dataset.ready === '1'")
        keys(browser, "1", "j", Keys.ESCAPE)
        click(browser, "#group")
        browser.execute_script("return document.title")

The driver and the browser are the system's (`chromedriver` and `chromium` on the PATH), given to
selenium by path, so that Selenium Manager, which would look for (and download) others, never runs.
Without them or without selenium, `MISSING` says what to install and the browser tests skip with it.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

try:
    from selenium.webdriver import ActionChains, Chrome, ChromeOptions
    from selenium.webdriver import Keys as Keys  # the tests' names of keys, `Keys.ESCAPE`
    from selenium.webdriver.chrome.service import Service as ChromeService
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait
except ModuleNotFoundError:  # the browser tests skip, saying so (MISSING)
    Chrome = Keys = None

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _missing() -> str | None:
    """What this machine lacks to drive Chromium, as a skip reason; None when nothing."""
    lacking = []
    if not (CHROMIUM and CHROMEDRIVER):
        lacking.append(
            "chromium and chromedriver not installed (Debian: apt-get install chromium "
            "chromium-driver)"
        )
    if Chrome is None:
        lacking.append('selenium not installed (pip install -e ".[dev]")')
    return "; ".join(lacking) or None


MISSING = _missing()

# Selenium Manager does not run (the driver's path is given); should a later selenium start it
# anyway, it stays offline: it looks on this machine only, never downloads a driver or a browser.
os.environ.setdefault("SE_OFFLINE", "true")
ARGUMENTS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--window-size=1280,1000"]  # fmt: skip


@contextmanager
def chromium() -> Iterator[Chrome]:
    """A headless Chromium session: selenium's `Chrome` driver, quit at the end of the `with`,
    with a profile of its own, removed then (chromedriver's own would leave a folder behind)."""
    with tempfile.TemporaryDirectory(prefix="kws-chromium-") as profile:
        options = ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in [*ARGUMENTS, f"--user-data-dir={profile}"]:
            options.add_argument(argument)
        service = ChromeService(executable_path=CHROMEDRIVER)
        with Chrome(options=options, service=service) as browser:
            yield browser


def wait(browser: Chrome, condition: str, timeout: float = 30.0):
    """Wait until the JavaScript expression `condition` is true in the page; its value."""
    return WebDriverWait(browser, timeout, poll_frequency=0.02).until(
        lambda driver: driver.execute_script(f"return {condition};"),
        message=f"the page never had {condition}",
    )


def keys(browser: Chrome, *presses: str) -> None:
    """Press each key of `presses` (characters, or `Keys` such as `Keys.ESCAPE`) on the page, in
    order, as one burst of key actions."""
    ActionChains(browser).send_keys(*presses).perform()


def click(browser: Chrome, css: str) -> None:
    """Click the first element that the CSS selector `css` finds."""
    browser.find_element(By.CSS_SELECTOR, css).click()


def type_into(browser: Chrome, css: str, text: str) -> None:
    """Clear the field that `css` finds, then type `text` into it."""
    field = browser.find_element(By.CSS_SELECTOR, css)
    field.clear()
    field.send_keys(text)
