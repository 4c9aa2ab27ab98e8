"""The concept explorer in a real browser: headless Chromium from disk (file://), driven by Selenium."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.explorer_fixture import DIMS, concept_records, decode_heatmaps, read_script, shared_tiny_run
from usae.explorer.browser import browser_missing, chromium, console_errors, open_concept, open_index, screenshot_site
from usae.explorer.build import build_explorer
from usae.explorer.content import concept_kinds
from usae.explorer.site import chunk_file, to_base64, write_script
from usae.io import read_json

pytestmark = pytest.mark.integration
SPECIFIC_SHARE = 0.55  # the tiny run's concepts are shared; below 1/2 every concept would be model-specific
CHUNK = 8

ALL_LOADED = ("return Array.prototype.map.call(document.querySelectorAll('#panel img'),"
              " function (image) { return [image.className, image.naturalWidth]; });")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    missing = browser_missing()
    if missing:
        pytest.skip(f"no headless browser: {missing}")
    inputs = shared_tiny_run(tmp_path_factory.getbasetemp() / "explorer_run")
    site_dir = tmp_path_factory.mktemp("explorer_browser") / "site"
    site = build_explorer(site_dir=site_dir, thumbnail_px=64, chunk_size=CHUNK, specific_share=SPECIFIC_SHARE, **inputs)
    return site, inputs


def column(driver, key):
    """Values of a numeric column in the table's visible rows."""
    return [float(cell.text) for cell in driver.find_elements("css selector", f"#table tbody td.col-{key}")]


def test_sort_filter_and_open_a_concept(site, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    site_dir, inputs = site
    frame = pd.read_csv(inputs["concepts_csv"])
    alive = frame[~frame["dead"]]
    kinds = concept_kinds(alive, list(DIMS), 0.9, SPECIFIC_SHARE, read_json(inputs["summary_json"])["min_cofires_scaled"])
    universal = alive[kinds == "universal"]
    with chromium() as driver:
        assert open_index(driver, site_dir)["page"] < 5
        assert len(driver.find_elements(By.CSS_SELECTOR, "#table tbody tr")) == len(alive)

        driver.find_element(By.CSS_SELECTOR, "th[data-key=entropy] button").click()
        entropy = column(driver, "entropy")
        assert entropy == sorted(entropy, reverse=True) and entropy[0] == pytest.approx(alive["entropy"].max(), 1e-3)

        kind = Select(driver.find_element(By.ID, "kind"))
        kind.select_by_visible_text("model-specific (any model)")
        specific = [row.get_attribute("data-kind") for row in driver.find_elements(By.CSS_SELECTOR, "#table tbody tr")]
        assert len(specific) == sum(kind.startswith("only ") for kind in kinds) > 0
        assert all(kind.startswith("only ") for kind in specific)
        assert "entropy > 0.9" in driver.find_element(By.ID, "kind-rule").text
        kind.select_by_visible_text("universal")
        rows = driver.find_elements(By.CSS_SELECTOR, "#table tbody tr")
        assert len(rows) == len(universal) > 0
        assert {row.get_attribute("data-kind") for row in rows} == {"universal"}
        assert column(driver, "entropy") == sorted(column(driver, "entropy"), reverse=True)

        entropy_filter = driver.find_element(By.CSS_SELECTOR, "input[data-filter=entropy]")
        entropy_filter.send_keys(">0.95")
        assert min(column(driver, "entropy")) > 0.95
        assert len(column(driver, "entropy")) == (universal["entropy"] > 0.95).sum()
        entropy_filter.clear()
        entropy_filter.send_keys("0..1")
        rows = driver.find_elements(By.CSS_SELECTOR, "#table tbody tr")
        assert len(rows) == len(universal)

        concept = int(rows[0].get_attribute("data-concept"))
        rows[0].click()
        open_concept(driver, concept)
        images = driver.execute_script(ALL_LOADED)
        heatmaps = [width for kind, width in images if kind == "heat"]
        thumbs = [width for kind, width in images if kind == "thumb"]
        assert len(heatmaps) == len(thumbs) > 0 and len(thumbs) % 3 == 0
        assert all(width > 0 for _, width in images), images

        neighbour = driver.find_element(By.CSS_SELECTOR, "#panel .neighbours a")
        other = int(neighbour.get_attribute("href").rsplit("=", 1)[1])
        neighbour.click()
        open_concept(driver, other)
        assert all(width > 0 for _, width in driver.execute_script(ALL_LOADED))

        assert console_errors(driver) == []
        driver.save_screenshot(str(tmp_path / "explorer.png"))
    with Image.open(tmp_path / "explorer.png") as shot:
        assert shot.size[0] > 800


def reencode(site_dir, concept, dense):
    """Rewrite a concept's heatmaps in its chunk file as dense or as sparse (same values)."""
    path = site_dir / "data" / "chunks" / chunk_file(concept // CHUNK)
    prefix = f"usaeChunk({concept // CHUNK}, "
    records = read_script(path, prefix, ");")
    record = records[str(concept)]
    for name, entry in record["heat"].items():
        flat = decode_heatmaps(entry, len(record["images"]) * 4)
        at = np.flatnonzero(flat)
        record["heat"][name] = ({"dense": to_base64(flat)} if dense else
                                {"at": to_base64(at.astype("<u2")), "values": to_base64(flat[at])})
    write_script(path, prefix, records, ");")


def test_every_panel_shows_the_heatmaps_of_its_data_file(site):
    site_dir, _ = site
    first, second = sorted(concept_records(site_dir))[:2]
    reencode(site_dir, first, dense=True)
    reencode(site_dir, second, dense=False)
    records = concept_records(site_dir)
    assert set(records[first]["heat"]["alpha"]) == {"dense"}
    assert set(records[second]["heat"]["alpha"]) == {"at", "values"}
    with chromium() as driver:
        open_index(driver, site_dir)
        for k, record in records.items():
            open_concept(driver, k)
            for name, entry in record["heat"].items():
                peaks = decode_heatmaps(entry, len(record["images"]) * 4).reshape(len(record["images"]), 4).max(1)
                captions = driver.execute_script(
                    f"return Array.prototype.map.call(document.querySelectorAll('#panel [data-model=\"{name}\"] "
                    "figcaption'), function (caption) { return caption.textContent.split('max ')[1]; });")
                np.testing.assert_allclose([float(c) for c in captions], peaks / 255 * record["scale"][name],
                                           rtol=5e-3, atol=1e-6, err_msg=f"concept {k}, {name}")
            starts = driver.execute_script(
                "return Array.prototype.map.call(document.querySelectorAll('#panel figcaption'), "
                "function (caption) { return caption.textContent.split(' \\u00b7 ')[0]; });")
            shown = [f"image {i}" + (f" ({f})" if f else "") for i, f in zip(record["images"], record["files"])]
            assert set(starts) - {s for s in starts if s.startswith("optimised for")} == set(shown)
            assert all(record["files"]), "the fixture's images have files, so the captions name them"
        assert console_errors(driver) == []


def test_screenshot_site_opens_the_top_universal_concept(site, tmp_path):
    site_dir, _ = site
    png = screenshot_site(site_dir, tmp_path / "shots" / "explorer.png", width=1200, height=800)
    with Image.open(png) as shot:
        assert shot.format == "PNG" and shot.size == (1200, 800)
        assert len(np.unique(np.asarray(shot.convert("L")))) > 50  # a drawn page, not a blank one
