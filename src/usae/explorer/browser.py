"""Drive the explorer in headless Chromium (Debian's ``chromium`` + ``chromium-driver``, via Selenium).

Used by the browser test, the benchmark and :func:`screenshot_site` (the README screenshot).
"""

import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from usae.io import atomic_path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)


def browser_missing():
    """Why the browser cannot be driven here (one line), or None when it can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            return f"{path} not found (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    return None


@contextmanager
def chromium(width=1400, height=900):
    """A headless Chromium WebDriver with a ``width`` x ``height`` viewport that records the console."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + (f"--window-size={width},{height}",):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",  # the viewport, not the window, is that size
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        yield driver
    finally:
        driver.quit()


def site_url(site_dir, concept=None):
    """``file://`` URL of a site's index page, optionally opening a concept's panel."""
    url = (Path(site_dir).resolve() / "index.html").as_uri()
    return url if concept is None else f"{url}#concept={concept}"


def wait_for(driver, script, timeout=30):
    """Wait until the JavaScript expression ``script`` is truthy; return its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.02).until(lambda d: d.execute_script(f"return {script}"))


def open_index(driver, site_dir):
    """Load the index page and wait until the table is drawn; return seconds from the request.

    Returns
    -------
    dict
        ``wall``: seconds from ``driver.get`` to the page marking itself drawn (includes the driver's
        round trips, and ``driver.get`` returns at the load event: after the index thumbnails in view
        have loaded); ``page``: seconds from navigation start to the end of the first frame that shows
        the table, measured by the page (``data-drawn-ms``).
    """
    start = time.perf_counter()
    driver.get(site_url(site_dir))
    page_ms = float(wait_for(driver, "document.body && document.body.dataset.drawnMs"))
    return {"wall": time.perf_counter() - start, "page": page_ms / 1000}


PANEL_IMAGES_LOADED = (
    "(function () { var images = document.querySelectorAll('#panel img');"
    " return images.length > 0 && Array.prototype.every.call(images, function (image) {"
    " return image.complete; }); })()"
)


def open_concept(driver, concept):
    """Open a concept's panel in the loaded page and wait until its images have loaded (or failed)."""
    driver.execute_script(f"location.hash = 'concept={concept}'")
    wait_for(
        driver,
        f"document.querySelector('#panel h2') && "
        f"document.querySelector('#panel h2').textContent.indexOf('Concept {concept} ') === 0",
    )
    wait_for(driver, PANEL_IMAGES_LOADED)


def console_errors(driver):
    """Console messages of level SEVERE since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot_site(site_dir, png_path, concept=None, width=1400, height=900):
    """Screenshot of the explorer with a concept's panel open (the README picture).

    Parameters
    ----------
    site_dir : path
    png_path : path
        Written atomically.
    concept : int, optional
        Default: the highest-energy universal concept, or the highest-energy concept.
    """
    with chromium(width, height) as driver:
        open_index(driver, site_dir)
        if concept is None:
            concept = driver.execute_script(
                "var v = USAE_INDEX.values, u = USAE_INDEX.kinds.indexOf('universal'), best = null;"
                "for (var i = 0; i < v.concept.length; i++) {"
                " var rank = [v.kind[i] === u ? 1 : 0, v.energy_total[i] || 0];"
                " if (best === null || rank[0] > best[0] || (rank[0] === best[0] && rank[1] > best[1]))"
                " best = rank.concat([v.concept[i]]); }"
                "return best[2];"
            )
        open_concept(driver, concept)
        with atomic_path(png_path) as tmp:
            tmp.write_bytes(driver.get_screenshot_as_png())
    return Path(png_path)
