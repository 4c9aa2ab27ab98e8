"""The concept explorer's tables and data files (no browser: see test_explorer_browser.py)."""

import base64
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from tests.explorer_fixture import (
    SPECIFIC_SHARE,
    concept_records,
    decode_heatmaps,
    read_script,
    shared_tiny_run,
    write_baseline,
    write_independent_top,
)
from usae.activations.batches import evaluation_batches
from usae.analysis.kinds import concept_kinds
from usae.data.manifest import read_manifest
from usae.errors import StoreError, UserError
from usae.explorer.build import ExplorerFiles, build_explorer, check_image_order, explorer_content, image_labels
from usae.explorer.content import gallery_images, nearest_concepts, quantise_heatmaps
from usae.explorer.site import chunk_file, encode_heatmaps, image_chunk_file, thumb_name, thumbnailed
from usae.io import read_json
from usae.options import ExplorerOptions
from usae.sae.checkpoint import load_trained

THUMB = 48
OPTIONS = ExplorerOptions(thumbnail_px=THUMB, chunk_size=16, specific_share=SPECIFIC_SHARE)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    inputs = shared_tiny_run(tmp_path_factory.getbasetemp() / "explorer_run")
    site_dir = tmp_path_factory.mktemp("explorer") / "site"
    frame = pd.read_csv(inputs["concepts"])
    baseline = write_baseline(site_dir.parent / "baseline", ["alpha", "beta", "gamma"], len(frame), inputs["manifest"])
    site = build_explorer(ExplorerFiles(**inputs, **baseline), site_dir, OPTIONS)
    meta = read_script(site / "data" / "meta.js", "window.USAE_META = ")
    index = read_script(site / "data" / "index.js", "window.USAE_INDEX = ")
    images = {}
    for chunk in range(0, -(-len(meta["shown_images"]) // 16)):
        images.update(read_script(site / "data" / "images" / image_chunk_file(chunk), f"usaeImages({chunk}, ", ");"))
    return {
        "inputs": inputs,
        "site": site,
        "meta": meta,
        "index": index,
        "records": concept_records(site),
        "frame": frame,
        "baseline": baseline,
        "pairs": baseline["pairs"],
        "twin_top": baseline["independent_top"],
        "images": {int(i): record for i, record in images.items()},
    }


def test_index_lists_every_alive_concept_once_with_its_statistics(built):
    frame, values = built["frame"], built["index"]["values"]
    alive = frame[~frame["dead"]]
    assert values["concept"] == alive["concept"].tolist()
    assert set(built["records"]) == set(alive["concept"])
    np.testing.assert_allclose(values["entropy"], alive["entropy"], rtol=1e-3)
    assert values["fires_beta"] == alive["fires_beta"].tolist()
    kinds = [built["index"]["kinds"][i] for i in values["kind"]]
    min_cofires = read_json(built["inputs"]["summary"])["min_cofires_scaled"]
    expected = concept_kinds(alive, built["meta"]["models"], 0.9, SPECIFIC_SHARE, min_cofires)
    assert kinds == expected.tolist() == alive["kind"].tolist() and "universal" in kinds


def test_concept_records_point_at_existing_thumbnails_and_decodable_heatmaps(built):
    site, meta = built["site"], built["meta"]
    tokens = meta["grid"][0] * meta["grid"][1]
    paths = read_manifest(built["inputs"]["manifest"])["path"].tolist()
    for k, record in built["records"].items():
        assert 0 < len(record["images"]) <= 3 * 4, k
        assert len(record["labels"]) == len(record["images"])
        assert record["files"] == [Path(paths[i]).name for i in record["images"]]  # captions name the file
        for name in meta["models"]:
            entry = record["heat"][name]
            assert len(decode_heatmaps(entry, len(record["images"]) * tokens)) == len(record["images"]) * tokens
            if "at" in entry:
                assert len(base64.b64decode(entry["at"])) == 2 * len(base64.b64decode(entry["values"]))
            assert all(0 <= j < len(record["images"]) for j in record["top"][name])
        for image in record["images"]:
            assert (site / "thumbs" / thumb_name(image)).exists()
        assert all(j in built["records"] and j != k for j, _ in record["neighbours"])


def test_thumbnails_are_small_jpegs_written_once(built):
    thumbs = sorted((built["site"] / "thumbs").iterdir())
    shown = {image for record in built["records"].values() for image in record["images"]}
    assert len(thumbs) == len(shown)
    for path in thumbs:
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.size == (THUMB, THUMB)
        assert path.stat().st_size < 8000


def test_heatmaps_are_the_models_codes_on_the_shown_images(built):
    inputs, meta = built["inputs"], built["meta"]
    usae, run = load_trained(inputs["usae_weights"], inputs["usae_meta"])
    batches = evaluation_batches(inputs["stores"], run)
    k, record = max(built["records"].items(), key=lambda item: len(item[1]["images"]))
    for name in meta["models"]:
        with torch.no_grad():  # one image at a time: TokenBatches.read returns images in store order
            expected = np.concatenate(
                [usae.encode(name, batches.read(name, np.array([i])))[1][:, k].numpy() for i in record["images"]]
            )
        shown = decode_heatmaps(record["heat"][name], expected.size) / 255 * record["scale"][name]
        np.testing.assert_allclose(shown, expected, atol=record["scale"][name] / 255 + 1e-3)


def test_site_has_the_r2_matrix_figures_and_actmax_images(built):
    site, meta = built["site"], built["meta"]
    assert len(meta["r2"]) == 3 and all(len(row) == 3 for row in meta["r2"])
    assert "entropy > 0.9" in meta["kind_rule"] and "55%" in meta["kind_rule"]
    assert meta["figures"] == ["figures/fig5_r2.png"] and (site / "figures" / "fig5_r2.png").exists()
    optimised = [record for record in built["records"].values() if record["actmax"]]
    assert len(optimised) == 1 and len(optimised[0]["actmax"]) == 3
    for item in optimised[0]["actmax"]:
        with Image.open(site / item["src"]) as image:
            assert image.format == "JPEG" and max(image.size) <= 2 * THUMB


def test_site_loads_nothing_from_the_network(built):
    for path in [built["site"] / "index.html", *(built["site"] / "assets").iterdir()]:
        text = path.read_text()
        assert "http://" not in text and "https://" not in text and "fetch(" not in text, path


def test_rebuild_replaces_the_site_without_actmax(built, tmp_path):
    inputs = {**built["inputs"], "actmax_table": None, "actmax_images": None}
    site = tmp_path / "site"
    site.mkdir()
    (site / "stale.txt").write_text("old")
    build_explorer(ExplorerFiles(**inputs), site, replace(OPTIONS, chunk_size=1000))
    assert not (site / "stale.txt").exists() and not (site / "actmax").exists()
    assert [path.name for path in tmp_path.iterdir()] == ["site"]
    chunk = read_script(site / "data" / "chunks" / chunk_file(0), "usaeChunk(0, ", ");")
    assert len(chunk) == len(built["records"]) and not any(record["actmax"] for record in chunk.values())
    # No pairs files: the baseline was not run, and the site says so (no twins).
    assert not read_script(site / "data" / "meta.js", "window.USAE_META = ")["baseline"]
    assert not any("twins" in record for record in chunk.values())


def test_the_site_is_byte_reproducible(built, tmp_path):
    site = build_explorer(ExplorerFiles(**built["inputs"], **built["baseline"]), tmp_path / "site", OPTIONS)
    files = sorted(path.relative_to(site) for path in site.rglob("*") if path.is_file())
    assert files == sorted(path.relative_to(built["site"]) for path in built["site"].rglob("*") if path.is_file())
    assert all((site / path).read_bytes() == (built["site"] / path).read_bytes() for path in files)


def test_index_shows_each_concepts_first_gallery_image(built):
    values, records = built["index"]["values"], built["records"]
    assert values["thumb"] == [records[k]["images"][0] for k in values["concept"]]
    assert all((built["site"] / "thumbs" / thumb_name(image)).exists() for image in values["thumb"])


def test_each_concepts_twins_are_the_baselines_pairs(built):
    assert built["meta"]["baseline"]
    for name, path in zip(built["meta"]["models"], built["pairs"]):
        pairs = pd.read_csv(path).set_index("usae_concept")
        for k, record in built["records"].items():
            twin = record["twins"][name]
            assert twin["atom"] == pairs.at[k, "independent_concept"]
            assert twin["activation"] == pairs.at[k, "activation_match"]
            assert (twin["cosine"], twin["correlation"]) == pytest.approx(
                (pairs.at[k, "cosine"], pairs.at[k, "activation_correlation"])
            )


def test_each_twin_shows_its_own_top_images_from_the_baseline(built):
    files = pd.read_csv(built["inputs"]["manifest"])["path"].map(lambda path: Path(path).name).tolist()
    with np.load(built["twin_top"]) as top:
        indices, values = top["indices"], top["values"]
    n = 3  # the fake npz's images per concept, under gallery_images_per_model (4)
    seen = set()
    for i, name in enumerate(built["meta"]["models"]):
        for record in built["records"].values():
            twin = record["twins"][name]
            for key in ("atom", "activation"):
                j = twin[key]
                expected = [
                    [int(indices[i, r, j]), pytest.approx(float(values[i, r, j]), rel=1e-3), files[indices[i, r, j]]]
                    for r in range(n)
                    if values[i, r, j] > 0
                ]
                assert twin[f"{key}_images"] == expected
                seen |= {item[0] for item in twin[f"{key}_images"]}
    assert all((built["site"] / "thumbs" / thumb_name(image)).exists() for image in seen)
    assert any(
        len(twin["atom_images"]) < n for record in built["records"].values() for twin in record["twins"].values()
    )


def test_twins_cosines_are_shown_beside_the_random_dictionarys(built):
    assert built["meta"]["twin_chance"] == {"alpha": 0.15, "beta": 0.16, "gamma": 0.17}


def test_thumbnails_cover_the_galleries_and_the_twins_images():
    gallery = np.array([[3, 1, -1]])
    twins = {"atom_images": np.array([[[7, -1]]]), "activation_images": np.array([[[1, 9]]])}
    assert thumbnailed(SimpleNamespace(gallery=gallery, twins=twins)).tolist() == [1, 3, 7, 9]
    assert thumbnailed(SimpleNamespace(gallery=gallery, twins=None)).tolist() == [1, 3]


def test_twin_images_of_other_images_are_refused_in_one_line(built, tmp_path):
    ids = pd.read_csv(built["inputs"]["manifest"])["image_id"].tolist()
    wrong = write_independent_top(tmp_path / "top.npz", ["alpha", "beta", "gamma"], len(built["frame"]), ids[::-1])
    with pytest.raises(UserError, match=r"top\.npz: not the val stores' images"):
        files = ExplorerFiles(**built["inputs"], pairs=built["pairs"], independent_top=wrong)
        build_explorer(files, tmp_path / "site", OPTIONS)
    assert not (tmp_path / "site").exists()


def test_image_views_show_the_concepts_that_fire_most_on_every_shown_image(built):
    inputs, meta, images = built["inputs"], built["meta"], built["images"]
    shown = sorted({image for record in built["records"].values() for image in record["images"]})
    assert meta["shown_images"] == shown and sorted(images) == shown
    tokens = meta["grid"][0] * meta["grid"][1]
    usae, run = load_trained(inputs["usae_weights"], inputs["usae_meta"])
    batches = evaluation_batches(inputs["stores"], run)
    labels = read_manifest(inputs["manifest"])["label"]
    for index in shown[:5]:
        record = images[index]
        assert record["file"] == f"img{index:05d}.png" and record["label"] == labels[index]
        for name in meta["models"]:
            with torch.no_grad():
                codes_Tm = usae.encode(name, batches.read(name, np.array([index])))[1].numpy()
            peaks = codes_Tm.max(0)
            expected = np.argsort(-peaks, kind="stable")[:6]
            assert record["concepts"][name] == expected[peaks[expected] > 0].tolist()
            np.testing.assert_allclose(record["scale"][name], peaks[record["concepts"][name]], rtol=1e-3)
            shown_codes = decode_heatmaps(record["heat"][name], len(record["concepts"][name]) * tokens)
            scale = np.array(record["scale"][name])
            np.testing.assert_allclose(
                shown_codes.reshape(-1, tokens) / 255 * scale[:, None],
                codes_Tm[:, record["concepts"][name]].T,
                atol=scale.max() / 255 + 1e-3,
            )


def test_unlabelled_images_are_labelled_by_their_file_name():
    manifest = pd.DataFrame(
        {"label": ["", "birds/owl"], "path": ["/data/val/IMG_0042.jpg", "/data/val/birds/owl/a.jpg"]}
    )
    assert image_labels(manifest) == ["IMG_0042", "birds/owl"]


def test_mismatched_manifest_or_missing_store_is_refused(built):
    inputs = built["inputs"]
    manifest = pd.read_csv(inputs["manifest"], dtype=str)
    with pytest.raises(ValueError, match="same order"):
        check_image_order(manifest.iloc[::-1], manifest["image_id"])
    with pytest.raises(StoreError, match="no store of model 'gamma'"):
        evaluation_batches(inputs["stores"][:2], load_trained(inputs["usae_weights"], inputs["usae_meta"])[1])


def test_gallery_is_the_rank_ordered_union_of_every_models_top_images():
    indices = np.array([[[5, 1], [6, 2], [7, 3]], [[6, 4], [5, 2], [9, 3]]])  # (M=2, n=3, m=2)
    values = np.array([[[2.0, 1], [1.0, 1], [0.5, 1]], [[3.0, 1], [0.0, 1], [1.0, 1]]])
    gallery, top = gallery_images(indices, values, 2, np.array([True, False]))
    assert gallery.tolist() == [[5, 6, -1, -1], [-1, -1, -1, -1]]  # image 5 has code 0 for model 1
    assert top[0].tolist() == [[True, True, False, False], [False, True, False, False]]
    assert not top[1].any()


def test_concept_kinds_follow_the_thresholds():
    frame = pd.DataFrame(
        {
            "fires_a": [10, 10, 0, 9, 0],
            "fires_b": [10, 0, 0, 1, 5],
            "cofires": [3, 0, 0, 1, 0],
            "entropy": [1.0, 0.0, 0.0, 0.47, 0.0],
            "dead": [False, False, True, False, False],
        }
    )
    assert concept_kinds(frame, ["a", "b"], 0.9, 0.9, 1).tolist() == ["universal", "only a", "dead", "only a", "only b"]
    assert concept_kinds(frame, ["a", "b"], 0.9, 0.95, 1)[3] == "mixed"
    # A concept needs min_cofires co-fires to be universal: 3 co-fires are not 4 (it is mixed then).
    assert concept_kinds(frame, ["a", "b"], 0.9, 0.9, 4)[0] == "mixed"


def test_nearest_concepts_by_concatenated_atom_cosine(rng):
    atoms = [rng.normal(size=(20, 5)), rng.normal(size=(20, 7))]
    atoms[0][3], atoms[1][3] = atoms[0][11] + 0.01, atoms[1][11] * 2  # concept 3 ~ concept 11 in both models
    alive = np.ones(20, dtype=bool)
    alive[7] = False
    neighbours, cosines = nearest_concepts(atoms, alive, 4, block=6)
    assert neighbours[3, 0] == 11 and neighbours[11, 0] == 3 and cosines[3, 0] > 0.99
    assert (neighbours[7] == -1).all() and not (neighbours == 7).any()
    assert all(k not in neighbours[k] for k in range(20))
    assert (np.diff(cosines[alive], axis=1) <= 1e-6).all()
    unit = [a / np.linalg.norm(a, axis=1, keepdims=True) for a in atoms]
    brute = (unit[0] @ unit[0].T + unit[1] @ unit[1].T) / 2
    np.testing.assert_allclose(cosines[0], np.sort(np.delete(brute[0], [0, 7]))[::-1][:4], rtol=1e-5)


def test_heatmaps_are_written_sparse_when_that_is_smaller():
    sparse = np.zeros((3, 49), np.uint8)
    sparse[1, 5], sparse[2, 48] = 7, 255
    entry = encode_heatmaps(sparse)
    assert set(entry) == {"at", "values"}
    np.testing.assert_array_equal(decode_heatmaps(entry, sparse.size), sparse.ravel())
    dense = np.arange(147, dtype=np.uint8).reshape(3, 49)
    assert set(encode_heatmaps(dense)) == {"dense"}
    np.testing.assert_array_equal(decode_heatmaps(encode_heatmaps(dense), dense.size), dense.ravel())


def test_quantised_heatmaps_keep_one_scale_per_concept_and_model():
    heat = np.zeros((2, 2, 3, 4), dtype=np.float32)
    heat[0, 1, 2, 3] = 2.0
    heat[0, 1, 0, 0] = 1.0
    data, scale = quantise_heatmaps(heat)
    assert scale.tolist() == [[0.0, 2.0], [0.0, 0.0]]
    assert data[0, 1, 2, 3] == 255 and data[0, 1, 0, 0] == 128 and data.sum() == 255 + 128


def test_nearest_concepts_come_with_what_chance_gives():
    from usae.explorer.content import chance_nearest_cosine

    small, large = chance_nearest_cosine([(256, 8), (256, 8)]), chance_nearest_cosine([(256, 512), (256, 512)])
    assert 0 < large < small < 1  # the more dimensions, the less a random neighbour resembles its concept
    assert chance_nearest_cosine([(256, 8), (256, 8)]) == small  # seeded


def test_the_site_says_what_a_nearest_cosine_is_worth(built):
    assert 0 < built["meta"]["neighbour_chance"] < 1


def test_display_names_title_the_columns_and_reach_the_site(built):
    from usae.explorer.site import index_columns, site_meta

    content = explorer_content(ExplorerFiles(**built["inputs"]), labels={"beta": "Beta ViT"})
    assert content.labels == {"alpha": "alpha", "beta": "Beta ViT", "gamma": "gamma"}
    alive = np.flatnonzero(content.kinds != "dead")
    titles = {
        column["key"]: column["title"] for column in index_columns(content, alive, [[]] * len(content.kinds))["columns"]
    }
    assert titles["fires_beta"] == "fires Beta ViT" and titles["fires_alpha"] == "fires alpha"
    meta = site_meta(content, [], [], 16, 64)
    assert meta["display"]["beta"] == "Beta ViT"
    assert "dead_share_per_model Beta ViT" in meta["summary"]  # the summary box names models as the reader knows them
    assert not [key for key in meta["summary"] if "beta" in key.split()]


def test_a_thumbnail_whose_image_changed_since_the_fetch_is_refused(tmp_path, image_folder):
    from usae.explorer.site import write_thumbnails
    from usae.io import file_sha256

    paths = [str(path) for path in image_folder[:2]]
    sha256s = [file_sha256(path) for path in paths]
    write_thumbnails(paths, [0, 1], tmp_path / "thumbs", 16, 80, sha256s)
    assert sorted(p.name for p in (tmp_path / "thumbs").iterdir()) == [thumb_name(0), thumb_name(1)]
    Image.open(paths[0]).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(paths[1])
    with pytest.raises(UserError, match="changed since it was fetched"):
        write_thumbnails(paths, [1], tmp_path / "again", 16, 80, sha256s)
