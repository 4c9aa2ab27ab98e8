"""The concept explorer in a real browser: headless Chromium from disk (file://), driven by Selenium."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.explorer_fixture import (
    DIMS,
    SPECIFIC_SHARE,
    concept_records,
    decode_heatmaps,
    read_script,
    shared_tiny_run,
    write_baseline,
    write_stability,
)
from usae.analysis.kinds import concept_kinds
from usae.explorer.browser import (
    PANEL_IMAGES_LOADED,
    browser_missing,
    chromium,
    console_errors,
    open_concept,
    open_index,
    screenshot_site,
    wait_for,
)
from usae.explorer.build import ExplorerFiles, build_explorer, explorer_content
from usae.explorer.site import chunk_file, to_base64, write_script, write_site
from usae.io import read_json
from usae.options import ExplorerOptions

pytestmark = pytest.mark.integration
CHUNK = 8
OPTIONS = ExplorerOptions(specific_share=SPECIFIC_SHARE, thumbnail_px=64, chunk_size=CHUNK)

ALL_LOADED = (
    "return Array.prototype.map.call(document.querySelectorAll('#panel img'),"
    " function (image) { return [image.className, image.naturalWidth]; });"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    missing = browser_missing()
    if missing:
        pytest.skip(f"no headless browser: {missing}")
    site_dir = tmp_path_factory.mktemp("explorer_browser") / "site"
    shared = shared_tiny_run(tmp_path_factory.getbasetemp() / "explorer_run")
    inputs = {**shared, "stability": write_stability(site_dir.parent / "stability.csv", shared["concepts"])}
    m = len(pd.read_csv(inputs["concepts"]))
    baseline = write_baseline(site_dir.parent / "baseline", list(DIMS), m, inputs["manifest"])
    site = build_explorer(ExplorerFiles(**inputs, **baseline), site_dir, OPTIONS)
    return site, inputs


@pytest.fixture(scope="module")
def wide_site(site, tmp_path_factory):
    """The tiny run's site (no baseline) with model names and labels as long as real ones, 128 px thumbnails."""
    content = explorer_content(ExplorerFiles(**site[1]), OPTIONS)
    long = {name: f"{name}_vit_large_patch14_reg4" for name in content.names}
    columns = {
        f"{prefix}_{name}": f"{prefix}_{longer}"
        for name, longer in long.items()
        for prefix in ("fires", "cofire_proportion", "energy")
    }
    kinds = np.array(
        [f"only {long[kind[5:]]}" if kind.startswith("only ") else kind for kind in content.kinds], dtype=object
    )
    wide = replace(
        content,
        names=list(long.values()),
        frame=content.frame.rename(columns=columns),
        kinds=kinds,
        image_labels=[f"{label}, a class named by a long list of synonyms" for label in content.image_labels],
    )
    return write_site(wide, tmp_path_factory.mktemp("explorer_wide") / "site", thumbnail_px=128, chunk_size=CHUNK)


def column(driver, key):
    """Values of a numeric column in the table's visible rows."""
    return [float(cell.text) for cell in driver.find_elements("css selector", f"#table tbody td.col-{key}")]


def test_sort_filter_and_open_a_concept(site, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    site_dir, inputs = site
    frame = pd.read_csv(inputs["concepts"])
    alive = frame[~frame["dead"]]
    kinds = concept_kinds(alive, list(DIMS), 0.9, SPECIFIC_SHARE, read_json(inputs["summary"])["min_cofires_scaled"])
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
        record["heat"][name] = (
            {"dense": to_base64(flat)} if dense else {"at": to_base64(at.astype("<u2")), "values": to_base64(flat[at])}
        )
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
                    "return Array.prototype.map.call(document.querySelectorAll("
                    f'\'#panel .model-row[data-model="{name}"] '
                    "figcaption'), function (caption) { return caption.textContent.split('max ')[1]; });"
                )
                np.testing.assert_allclose(
                    [float(c) for c in captions],
                    peaks / 255 * record["scale"][name],
                    rtol=5e-3,
                    atol=1e-6,
                    err_msg=f"concept {k}, {name}",
                )
            starts = driver.execute_script(
                "return Array.prototype.map.call(document.querySelectorAll('#panel .tile figcaption'), "
                "function (caption) { return caption.textContent.split(' \\u00b7 ')[0]; });"
            )
            shown = [f"image {i}" + (f" ({f})" if f else "") for i, f in zip(record["images"], record["files"])]
            assert set(starts) == set(shown)
            assert all(record["files"]), "the fixture's images have files, so the captions name them"
        assert console_errors(driver) == []


def test_screenshot_site_opens_the_top_universal_concept(site, tmp_path):
    site_dir, _ = site
    png = screenshot_site(site_dir, tmp_path / "shots" / "explorer.png", width=1200, height=800)
    with Image.open(png) as shot:
        assert shot.format == "PNG" and shot.size == (1200, 800)
        assert len(np.unique(np.asarray(shot.convert("L")))) > 50  # a drawn page, not a blank one


def panel_title(driver, start):
    """Wait until the panel's title starts with ``start`` and its images have loaded."""
    wait_for(
        driver,
        f"document.querySelector('#panel h2') && "
        f"document.querySelector('#panel h2').textContent.indexOf({start!r}) === 0",
    )
    wait_for(driver, PANEL_IMAGES_LOADED)


def test_at_1400_px_the_index_fits_and_shows_lazy_thumbnails(wide_site):
    from selenium.webdriver.common.by import By

    with chromium(1400, 900) as driver:
        open_index(driver, wide_site)
        widths = driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"horizontal scroll at 1400 px: {widths}"
        thumbs = driver.find_elements(By.CSS_SELECTOR, "#table tbody td.thumb img")
        assert len(thumbs) == len(driver.find_elements(By.CSS_SELECTOR, "#table tbody tr")) > 0
        assert {image.get_attribute("loading") for image in thumbs} == {"lazy"}
        wait_for(driver, "document.querySelector('#table tbody td.thumb img').naturalWidth === 128")
        open_concept(driver, int(driver.find_element(By.CSS_SELECTOR, "#table tbody tr").get_attribute("data-concept")))
        assert "Baseline not run" in driver.find_element(By.ID, "panel").text
        assert console_errors(driver) == []


# Every word of the elements that arguments[0] selects on one line: a title may wrap between words, after a
# hyphen or after an underscore, never inside a word ("conc ept", "EfficientN et-Lite0" at 1,400 px before).
WORDS_ON_ONE_LINE = """
var broken = [];
document.querySelectorAll(arguments[0]).forEach(function (th) {
  var walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
  for (var node = walker.nextNode(); node; node = walker.nextNode()) {
    var pattern = /[^\\s\\-_\\u200b]+/g, match;
    while ((match = pattern.exec(node.data))) {
      var range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      var tops = Array.prototype.map.call(range.getClientRects(), function (rect) { return Math.round(rect.top); });
      if (new Set(tops).size > 1) broken.push(match[0]);
    }
  }
});
return broken;
"""


def test_at_1400_px_no_column_title_breaks_inside_a_word_and_labels_stay_apart(wide_site):
    from selenium.webdriver.common.by import By

    with chromium(1400, 900) as driver:
        open_index(driver, wide_site)
        assert driver.execute_script(WORDS_ON_ONE_LINE, "#table tr.titles th") == []
        widths = driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"horizontal scroll at 1400 px: {widths}"
        # A label with a comma is one element, not two labels.
        first = driver.find_element(By.CSS_SELECTOR, "#table tbody td.labels")
        spans = [span.text for span in first.find_elements(By.CSS_SELECTOR, "span.label")]
        assert spans and all(span.endswith(", a class named by a long list of synonyms") for span in spans)
        open_concept(driver, int(driver.find_element(By.CSS_SELECTOR, "#table tbody tr").get_attribute("data-concept")))
        assert driver.execute_script(WORDS_ON_ONE_LINE, "#panel .model-name") == []  # the panel's model names too


def test_at_1400_px_the_default_models_display_names_fit_unbroken(site, tmp_path):
    """The embedded default's display names (long, hyphenated) in every model column: no title word broken,
    no sideways scroll (a real run's index overflowed by 10 px before the cells' padding shrank)."""
    labels = dict(zip(DIMS, ["DINOv2-S block 8", "EfficientNet-Lite0", "MobileNet-V2"]))
    content = replace(explorer_content(ExplorerFiles(**site[1]), OPTIONS), labels=labels)
    shown = write_site(content, tmp_path / "site", thumbnail_px=128, chunk_size=CHUNK)
    with chromium(1400, 900) as driver:
        open_index(driver, shown)
        assert driver.execute_script(WORDS_ON_ONE_LINE, "#table tr.titles th") == []
        widths = driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"horizontal scroll at 1400 px: {widths}"


def test_go_to_a_concept_by_id(site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    site_dir, _ = site
    with chromium() as driver:
        open_index(driver, site_dir)
        Select(driver.find_element(By.ID, "kind")).select_by_visible_text("universal")
        hidden = driver.execute_script(
            "var v = USAE_INDEX.values, u = USAE_INDEX.kinds.indexOf('universal');"
            "for (var i = 0; i < v.concept.length; i++)"
            " if (v.kind[i] !== u) return v.concept[i];"
        )
        assert not driver.find_elements(By.CSS_SELECTOR, f"#table tbody tr[data-concept='{hidden}']")
        driver.find_element(By.ID, "goto").send_keys(str(hidden), Keys.ENTER)
        open_concept(driver, hidden)  # the filters that hid it are cleared and its row is shown, selected
        row = driver.find_element(By.CSS_SELECTOR, f"#table tbody tr[data-concept='{hidden}']")
        assert "selected" in row.get_attribute("class").split()
        assert driver.find_element(By.ID, "kind").get_attribute("value") == ""
        goto = driver.find_element(By.ID, "goto")
        goto.clear()
        goto.send_keys("99999", Keys.ENTER)
        wait_for(driver, "document.querySelector('#panel .error')")
        assert "Concept 99999 is dead or does not exist" in driver.find_element(By.ID, "panel").text
        assert console_errors(driver) == []


def test_image_view_shows_each_models_top_concepts_and_links_back(site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    site_dir, _ = site
    with chromium() as driver:
        open_index(driver, site_dir)
        shown = driver.execute_script("return USAE_META.shown_images")
        strip = driver.find_elements(By.CSS_SELECTOR, "#image-strip a img")
        assert len(strip) == min(60, len(shown)) and {image.get_attribute("loading") for image in strip} == {"lazy"}
        concept = driver.execute_script("return USAE_INDEX.values.concept[0]")
        open_concept(driver, concept)
        first = driver.find_element(By.CSS_SELECTOR, "#panel .model-row .tile")
        index = int(first.get_attribute("title").split()[1])
        first.click()
        panel_title(driver, f"Image {index} (img{index:05d}.png)")
        rows = driver.find_elements(By.CSS_SELECTOR, "#panel .model-row")
        assert [row.get_attribute("data-model") for row in rows] == list(DIMS)
        captions = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#panel figcaption")]
        assert 0 < len(captions) <= 6 * len(DIMS) and all(c.startswith("concept ") for c in captions)
        assert all(width > 0 for _, width in driver.execute_script(ALL_LOADED))
        top = int(captions[0].split()[1])
        driver.find_element(By.CSS_SELECTOR, "#panel .model-row .tile").click()
        open_concept(driver, top)

        driver.find_element(By.ID, "goto-image").send_keys(str(shown[-1]), Keys.ENTER)
        panel_title(driver, f"Image {shown[-1]} ")
        missing = next(i for i in range(10**6) if i not in set(shown))
        driver.find_element(By.ID, "goto-image").clear()
        driver.find_element(By.ID, "goto-image").send_keys(str(missing), Keys.ENTER)
        wait_for(driver, "document.querySelector('#panel .error')")
        assert "in no concept's gallery" in driver.find_element(By.ID, "panel").text
        assert console_errors(driver) == []


def test_concept_panel_lists_the_baseline_twins(site):
    from selenium.webdriver.common.by import By

    site_dir, _ = site
    records = concept_records(site_dir)
    k = min(records)
    with chromium() as driver:
        open_index(driver, site_dir)
        open_concept(driver, k)
        rows = driver.find_elements(By.CSS_SELECTOR, "#panel table.twins tbody tr")
        assert [row.get_attribute("data-model") for row in rows] == list(DIMS)
        for row, name in zip(rows, DIMS):
            twin = records[k]["twins"][name]
            text = " ".join(row.text.split())
            chance = read_script(site_dir / "data" / "meta.js", "window.USAE_META = ")["twin_chance"][name]
            assert text.startswith(f"{name} concept {twin['atom']} (")
            assert f"; random atoms' matched mean {chance:.3f})" in text
            assert f"concept {twin['activation']} (" in text
            # Each twin's own top images from the baseline, drawn, captioned with image id and file name.
            cells = row.find_elements(By.CSS_SELECTOR, "td")
            for cell, key in zip(cells, ("atom", "activation")):
                images = cell.find_elements(By.CSS_SELECTOR, ".twin-images img")
                assert [image.get_attribute("alt") for image in images] == [
                    f"image {item[0]}" for item in twin[f"{key}_images"]
                ]
                for item in twin[f"{key}_images"]:
                    assert f"image {item[0]} ({item[2]})" in cell.text
        driver.execute_script("document.querySelectorAll('#panel img').forEach(function (i) { i.loading = 'eager'; });")
        wait_for(
            driver,
            "Array.prototype.every.call(document.querySelectorAll('.twin-images img'),"
            " function (image) { return image.complete && image.naturalWidth > 0; })",
        )
        assert console_errors(driver) == []


def test_the_site_names_each_model_by_its_display_name(site, tmp_path):
    from selenium.webdriver.common.by import By

    labels = {"alpha": "Alpha-Net", "beta": "Beta ViT", "gamma": "Gamma CNN"}
    content = replace(explorer_content(ExplorerFiles(**site[1]), OPTIONS), labels=labels)
    shown = write_site(content, tmp_path / "site", thumbnail_px=64, chunk_size=CHUNK)
    k = int(content.frame.loc[content.kinds == "universal", "concept"].iloc[0])
    with chromium() as driver:
        open_index(driver, shown)
        page = driver.find_element(By.TAG_NAME, "body").text
        assert all(label in page for label in labels.values()) and "fires alpha" not in page
        open_concept(driver, k)
        panel = driver.find_element(By.ID, "panel").text
        assert all(f"{label} (scale" in panel for label in labels.values())
        assert console_errors(driver) == []


HOSTILE = 'Nuts, "Oilseeds" <script>window.pwned = 1</script><b>bold</b>'


def test_panel_shows_labels_and_stability_and_the_index_sorts_and_filters_by_them(site, tmp_path):
    """Each concept's labels among every model's top images and its seed stability, in the panel; the index
    sorts by stability and filters by the models a concept is coherent in; a label holding a comma, quotes
    and HTML is shown as text, never run."""
    from selenium.webdriver.common.by import By

    content = explorer_content(ExplorerFiles(**site[1]), OPTIONS)
    tested = np.isfinite(content.frame[f"label_share_{content.names[0]}"].to_numpy(dtype=float))
    assert tested.any() and content.coherence["run"]
    frame = content.frame.copy()
    frame.loc[tested, f"label_{content.names[0]}"] = HOSTILE
    counts = [{**entry} for entry in content.label_counts]
    for k in np.flatnonzero(tested):
        counts[k][content.names[0]] = [[HOSTILE, 5], ["plain", 3]]
    hostile = write_site(replace(content, frame=frame, label_counts=counts), tmp_path / "site", chunk_size=CHUNK)
    k = int(np.flatnonzero(tested & (content.kinds != "dead"))[0])
    with chromium() as driver:
        open_index(driver, hostile)
        driver.find_element(By.CSS_SELECTOR, "th[data-key=joint_stability] button").click()
        stability = column(driver, "joint_stability")
        assert stability == sorted(stability, reverse=True) and len(stability) > 1
        coherent_filter = driver.find_element(By.CSS_SELECTOR, "input[data-filter=coherent_models]")
        coherent_filter.send_keys(">=1")
        shown = column(driver, "coherent_models")
        assert min(shown, default=1) >= 1 and len(shown) == int(
            (frame.loc[content.kinds != "dead", "coherent_models"] >= 1).sum()
        )
        open_concept(driver, k)
        row = driver.find_element(By.CSS_SELECTOR, f"#panel .evidence tr[data-model={content.names[0]}]")
        labels = [span.text for span in row.find_elements(By.CSS_SELECTOR, "span.label")]
        assert labels == [HOSTILE, HOSTILE + " \u00d75", "plain \u00d73"]
        assert row.find_elements(By.CSS_SELECTOR, "b, script") == []
        assert driver.execute_script("return window.pwned === undefined")
        cells = [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "td")]
        stabilities = frame.loc[k, [f"atom_stability_{content.names[0]}", f"code_stability_{content.names[0]}"]]
        assert [float(cell) for cell in cells[-2:]] == pytest.approx(stabilities.to_list(), abs=1e-3)
        assert console_errors(driver) == []


@pytest.fixture(scope="module")
def zoo_site(tmp_path_factory):
    """A site of eight models (config/zoo.yaml's names and display names), with twins and stability."""
    from tests.explorer_fixture import ZOO_DIMS, ZOO_LABELS

    missing = browser_missing()
    if missing:
        pytest.skip(f"no headless browser: {missing}")
    site_dir = tmp_path_factory.mktemp("explorer_zoo") / "site"
    shared = shared_tiny_run(tmp_path_factory.getbasetemp() / "explorer_zoo_run", zoo=True)
    stability = write_stability(site_dir.parent / "stability.csv", shared["concepts"], names=tuple(ZOO_DIMS))
    m = len(pd.read_csv(shared["concepts"]))
    baseline = write_baseline(site_dir.parent / "baseline", list(ZOO_DIMS), m, shared["manifest"])
    files = ExplorerFiles(**shared, stability=stability, **baseline)
    return build_explorer(files, site_dir, replace(OPTIONS, thumbnail_px=128), labels=ZOO_LABELS)


NO_SIDEWAYS_SCROLL = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
VISIBLE_TITLES = (
    "return Array.prototype.filter.call(document.querySelectorAll('#table tr.titles th[data-key]'),"
    " function (th) { return th.offsetParent !== null; }).map(function (th) { return th.getAttribute('data-key'); });"
)


def test_with_eight_models_the_index_shows_one_statistic_per_model_and_fits_1400_px(zoo_site):
    """At M = 8 the index shows one per-model statistic at a time (8 columns, not 24), chosen with a picker; each
    choice fits 1,400 px with no title broken inside a word, and the concept panel and image view fit beside."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from tests.explorer_fixture import ZOO_DIMS

    with chromium(1400, 900) as driver:
        open_index(driver, zoo_site)
        picker = Select(driver.find_element(By.ID, "per-model"))
        assert picker.first_selected_option.text == "fires"
        models = driver.execute_script("return USAE_META.models")
        assert sorted(models) == sorted(ZOO_DIMS)
        for statistic, prefix in [("fires", "fires_"), ("co-fire prop.", "cofire_proportion_"), ("energy", "energy_")]:
            picker.select_by_visible_text(statistic)
            shown = driver.execute_script(VISIBLE_TITLES)
            per_model = [key for key in shown if key.endswith(tuple(ZOO_DIMS))]
            assert per_model == [prefix + name for name in models], statistic
            widths = driver.execute_script(NO_SIDEWAYS_SCROLL)
            assert widths[0] <= widths[1], f"horizontal scroll at 1400 px with {statistic}: {widths}"
            assert driver.execute_script(WORDS_ON_ONE_LINE, "#table tr.titles th") == []
        # Sorting by a hidden statistic's column still works, and "all statistics" shows all 24.
        picker.select_by_visible_text("all statistics")
        assert len([key for key in driver.execute_script(VISIBLE_TITLES) if key.endswith(tuple(ZOO_DIMS))]) == 24
        concept = driver.execute_script("return USAE_INDEX.values.concept[0]")
        open_concept(driver, concept)
        rows = driver.find_elements(By.CSS_SELECTOR, "#panel .model-row")
        assert [row.get_attribute("data-model") for row in rows] == models
        assert len(driver.find_elements(By.CSS_SELECTOR, "#panel table.twins tbody tr")) == 8
        panel = driver.execute_script(
            "var p = document.getElementById('panel'); return [p.scrollWidth, p.clientWidth];"
        )
        assert panel[0] <= panel[1], f"the panel scrolls sideways: {panel}"
        assert driver.execute_script(WORDS_ON_ONE_LINE, "#panel .model-name") == []
        first = driver.find_element(By.CSS_SELECTOR, "#panel .model-row .tile")
        first.click()
        panel_title(driver, "Image ")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#panel .model-row")) == 8
        panel = driver.execute_script(
            "var p = document.getElementById('panel'); return [p.scrollWidth, p.clientWidth];"
        )
        assert panel[0] <= panel[1], f"the image view scrolls sideways: {panel}"
        assert console_errors(driver) == []
