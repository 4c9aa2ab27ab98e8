"""Fetch + extract on a handful of real images with a shipped pretrained model."""

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skimage.data
import torch
from PIL import Image

from usae.activations.extraction import extract_store, resampling_note
from usae.activations.store import ActivationStore, StoreWriter, stat_indices
from usae.errors import StoreError, UserError
from usae.io import file_sha256
from usae.models.loaders import load_token_model, model_spec


@pytest.fixture(scope="module")
def lite0():
    return load_token_model(model_spec("efficientnet_lite0"))


def _manifest(paths):
    return pd.DataFrame(
        {
            "image_id": [f"i{k}" for k in range(len(paths))],
            "path": [str(p) for p in paths],
            "sha256": [file_sha256(p) for p in paths],
        }
    )


class KnownGrid(torch.nn.Module):
    """A token model whose grid is each image average-pooled to 4 x 4 (3 channels); keeps its outputs."""

    def __init__(self):
        super().__init__()
        self.outputs = []

    def forward(self, images_NCHW):
        grid_NDHW = torch.nn.functional.adaptive_avg_pool2d(images_NCHW, 4) * 3 + 1
        self.outputs.append(grid_NDHW.clone())
        return grid_NDHW


class Interrupt(RuntimeError):
    pass


class DiesAfter(torch.nn.Module):
    """A token model that raises after ``calls`` forward passes (a killed run)."""

    def __init__(self, inner, calls):
        super().__init__()
        self.inner, self.calls = inner, calls

    def forward(self, images):
        if self.calls == 0:
            raise Interrupt
        self.calls -= 1
        return self.inner(images)


def test_resumed_store_is_byte_identical(tmp_path, image_folder, lite0):
    spec = model_spec("efficientnet_lite0")
    manifest = _manifest(image_folder)
    options = dict(grid=5, batch_size=2, shard_images=2, stat_images=4)
    extract_store(manifest, spec, tmp_path / "full", token_model=lite0, **options)
    with pytest.raises(Interrupt):
        extract_store(manifest, spec, tmp_path / "resumed", token_model=DiesAfter(lite0, 2), **options)
    written = sorted(p.name for p in (tmp_path / "resumed").glob("shard_*.npy"))
    assert written == ["shard_00000.npy", "shard_00001.npy"]
    assert not (tmp_path / "resumed" / "meta.json").exists()
    extract_store(manifest, spec, tmp_path / "resumed", token_model=DiesAfter(lite0, 1), **options)
    for name in ["shard_00000.npy", "shard_00001.npy", "shard_00002.npy"]:
        assert (tmp_path / "full" / name).read_bytes() == (tmp_path / "resumed" / name).read_bytes()


def test_activations_are_the_pretrained_models(tmp_path, lite0):
    """Stored tokens through the rest of the model (head, pooling, classifier) say 'Egyptian cat' for chelsea."""
    path = tmp_path / "chelsea.png"
    Image.fromarray(skimage.data.chelsea()).save(path)
    spec = model_spec("efficientnet_lite0")
    meta = extract_store(_manifest([path]), spec, tmp_path / "s", grid=7, dtype="float32", token_model=lite0)
    tokens_TD = torch.from_numpy(ActivationStore(tmp_path / "s").images(0, 1)[0])
    grid_NDHW = tokens_TD.T.reshape(1, 320, 7, 7)
    net = lite0.model
    with torch.no_grad():
        logits = net.classifier(net.global_pool(net.bn2(net.conv_head(grid_NDHW))))
    assert logits.argmax().item() == 285
    assert meta["source"]["spec"]["arch"] == "efficientnet_lite0"
    assert meta["source"]["versions"]["torch"].startswith("2.")


SMALL = dict(grid=2, batch_size=2, shard_images=2, stat_images=4, seed=1, dtype="float32")


def test_statistics_of_the_raw_grid_or_of_the_stored_tokens(tmp_path, image_folder):
    spec = model_spec("efficientnet_lite0")
    known = KnownGrid()
    raw = extract_store(_manifest(image_folder), spec, tmp_path / "raw", token_model=known, **SMALL)
    raw_NDHW = torch.cat(known.outputs).double().numpy()[stat_indices(6, 4, 1)]
    assert raw["stats"]["grid"] == "raw" and raw["stats"]["images"] == 4
    assert raw["stats"]["mean"] == pytest.approx(raw_NDHW.mean(), rel=1e-12)
    assert raw["stats"]["std"] == pytest.approx(raw_NDHW.std(ddof=1), rel=1e-12)
    resampled = extract_store(
        _manifest(image_folder), spec, tmp_path / "resampled", token_model=KnownGrid(), stats_grid="resampled", **SMALL
    )
    stored_NTD = ActivationStore(tmp_path / "resampled").images(0, 6).astype(np.float64)[stat_indices(6, 4, 1)]
    assert stored_NTD.shape == (4, 4, 3)
    assert resampled["stats"]["grid"] == "resampled"
    assert resampled["stats"]["mean"] == pytest.approx(stored_NTD.mean(), rel=1e-12)
    assert resampled["stats"]["std"] == pytest.approx(stored_NTD.std(ddof=1), rel=1e-12)
    assert abs(resampled["stats"]["std"] - raw["stats"]["std"]) > 1e-3  # resampling smooths the grid
    # Switching the statistics rewrites meta.json only: no image goes through the model again.
    switched = extract_store(
        _manifest(image_folder),
        spec,
        tmp_path / "raw",
        token_model=DiesAfter(KnownGrid(), 0),
        stats_grid="resampled",
        **SMALL,
    )
    assert switched["stats"] == resampled["stats"]


def test_changed_image_bytes_with_the_same_ids_are_extracted_afresh(tmp_path, image_folder, caplog):
    caplog.set_level(logging.INFO, logger="usae")
    spec = model_spec("efficientnet_lite0")
    extract_store(_manifest(image_folder), spec, tmp_path / "s", token_model=KnownGrid(), **SMALL)
    before = (tmp_path / "s" / "shard_00000.npy").read_bytes()
    Image.fromarray(skimage.data.camera()[:200, :200]).convert("RGB").save(image_folder[0])
    caplog.clear()
    extract_store(_manifest(image_folder), spec, tmp_path / "s", token_model=KnownGrid(), **SMALL)
    assert "images changed since the last extraction" in caplog.text
    assert (tmp_path / "s" / "shard_00000.npy").read_bytes() != before


def test_damaged_shards_are_extracted_again(tmp_path, image_folder):
    spec = model_spec("efficientnet_lite0")
    manifest = _manifest(image_folder)
    extract_store(manifest, spec, tmp_path / "full", token_model=KnownGrid(), **SMALL)
    full = [(tmp_path / "full" / f"shard_0000{i}.npy").read_bytes() for i in range(3)]
    store = tmp_path / "damaged"
    extract_store(manifest, spec, store, token_model=KnownGrid(), **SMALL)
    (store / "meta.json").unlink()
    (store / "shard_00001.npy").write_bytes(full[1][:-7])  # truncated by a crash
    np.save(store / "shard_00002.npy", np.load(store / "shard_00002.npy")[:1])  # valid .npy, one row short
    writer = StoreWriter(
        store, manifest["image_id"].tolist(), 2, "float32", stat_images=4, seed=1, plan_extra=_plan_of(store)
    )
    assert writer.missing_shards() == [1, 2]
    meta = extract_store(manifest, spec, store, token_model=KnownGrid(), **SMALL)
    assert [(store / f"shard_0000{i}.npy").read_bytes() for i in range(3)] == full
    assert meta["stats"] == ActivationStore(tmp_path / "full").meta["stats"]


def test_a_row_short_shard_is_named_not_an_index_error(tmp_path, image_folder):
    extract_store(
        _manifest(image_folder), model_spec("efficientnet_lite0"), tmp_path / "s", token_model=KnownGrid(), **SMALL
    )
    np.save(tmp_path / "s" / "shard_00001.npy", np.load(tmp_path / "s" / "shard_00001.npy")[:1])
    with pytest.raises(StoreError, match=r"shard_00001.npy: shape \(1, 4, 3\), metadata says \(2, 4, 3\)"):
        ActivationStore(tmp_path / "s").images(0, 6)


def _plan_of(store):
    """The extraction-specific part of a store's plan (what extract_store adds)."""
    from usae.io import read_json

    plan = read_json(store / "plan.json")
    return {key: plan[key] for key in ("model", "spec", "grid", "batch_size", "autocast", "images")}


def test_an_image_changed_since_its_manifest_was_written_is_refused_in_one_line(tmp_path, image_folder):
    """Extraction reads each image checked against the sha256 its manifest recorded at the fetch."""
    spec = model_spec("efficientnet_lite0")
    manifest = _manifest(image_folder)
    manifest.attrs["source"] = "train.csv"
    Image.fromarray(skimage.data.camera()[:200, :200]).convert("RGB").save(image_folder[1])
    with pytest.raises(UserError) as error:
        extract_store(manifest, spec, tmp_path / "s", token_model=KnownGrid(), **SMALL)
    assert str(error.value) == (
        f"{image_folder[1]}: changed since it was fetched (its sha256 is not the one train.csv records)"
    )
    assert not (tmp_path / "s" / "meta.json").exists()


def test_a_missing_image_is_refused_in_one_line_naming_the_manifest_and_the_file(tmp_path, image_folder):
    manifest = _manifest(image_folder)
    manifest.attrs["source"] = "train.csv"
    Path(image_folder[1]).unlink()
    Path(image_folder[2]).unlink()
    with pytest.raises(UserError) as error:
        extract_store(manifest, model_spec("efficientnet_lite0"), tmp_path / "s", token_model=KnownGrid(), **SMALL)
    assert str(error.value) == (
        f"train.csv: image {image_folder[1]} is missing (and 1 more); fetch again, or point data: at its cache"
    )


@pytest.mark.parametrize("grid, text", [(2, "2x downsampled"), (8, "2x upsampled"), (4, None)])
def test_a_store_records_the_models_own_grid_and_says_how_it_was_resampled(tmp_path, image_folder, grid, text):
    meta = extract_store(
        _manifest(image_folder),
        model_spec("efficientnet_lite0"),
        tmp_path / "s",
        token_model=KnownGrid(),
        **{**SMALL, "grid": grid},
    )
    assert meta["native_grid"] == [4, 4] and meta["grid"] == [grid, grid]
    note = resampling_note(meta)
    if text is None:
        assert note is None
    else:
        assert note == (f"efficientnet_lite0: its 4x4 token grid is resampled to {grid}x{grid} ({text})", grid > 4)


def test_a_store_in_another_splits_folder_is_refused_in_one_line(tmp_path, image_folder):
    """A store records the data folder and split it was made from; a reader finds it where its folders say so."""
    store = tmp_path / "acts" / "photos-abc" / "val" / "lite0-123"
    origin = {"data": "photos-abc", "split": "val"}
    meta = extract_store(
        _manifest(image_folder),
        model_spec("efficientnet_lite0"),
        store,
        token_model=KnownGrid(),
        origin=origin,
        **SMALL,
    )
    assert meta["origin"] == origin and ActivationStore(store).n_images == 6
    misplaced = Path(shutil.copytree(store, tmp_path / "acts" / "photos-abc" / "train" / "lite0-123"))
    with pytest.raises(StoreError) as error:
        ActivationStore(misplaced)
    assert str(error.value) == (
        f"{misplaced / 'meta.json'}: a store of photos-abc/val, not of the photos-abc/train its folders name; "
        "extract it again"
    )
