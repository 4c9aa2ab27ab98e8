"""usae.load: a trained run's specs, encode, decode, image tokens and concept table, and its one-line errors."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import usae
from tests.data.test_sources import _png_header_only
from tests.synthetic import planted_activations, run_files, write_planted_stores
from usae import jobs
from usae.activations.batches import TokenBatches, destandardise, evaluation_batches, standardise
from usae.activations.store import ActivationStore
from usae.config import validate_config
from usae.data.manifest import read_manifest
from usae.errors import ConfigError, UserError
from usae.io import read_json, write_json
from usae.models.loaders import preprocess
from usae.options import TrainOptions
from usae.provenance import module_closure
from usae.sae.checkpoint import load_trained
from usae.sae.trained_run import concept_table, load
from usae.sae.training import UniversalRun


@pytest.fixture(scope="module")
def trained(tiny_evaluated):
    """``(config, layout, run, module)``: the tiny USAE as :func:`load` and as ``load_trained`` give it."""
    config, layout = tiny_evaluated
    files = layout.run_files("usae")
    module, _ = load_trained(files["weights"], files["meta"])
    return config, layout, load(Path(files["weights"]).parent), module


def val_store(config, layout, model):
    return ActivationStore(Path(jobs.store(config, layout, config["dataset"]["name"], "val", model)).parent)


def val_paths(config, layout, n=4):
    return read_manifest(jobs.manifest(config, config["dataset"]["name"], "val"))["path"][:n].tolist()


def copied_run(trained, tmp_path, edit=None, files=("model.safetensors", "model.json")):
    """A copy of the tiny USAE's run folder under ``tmp_path/train/usae``, its ``model.json`` edited by ``edit``."""
    run_dir = tmp_path / "train" / "usae"
    run_dir.mkdir(parents=True)
    for name in files:
        shutil.copy(trained[2].run_dir / name, run_dir / name)
    if edit:
        meta = read_json(run_dir / "model.json")
        edit(meta)
        write_json(run_dir / "model.json", meta)
    return run_dir


def one_line_error(call, *args, **kwargs):
    with pytest.raises(UserError) as error:
        call(*args, **kwargs)
    assert "\n" not in str(error.value)
    return str(error.value)


def test_the_run_knows_its_models_specs_and_statistics(trained):
    config, layout, run, _ = trained
    meta = read_json(layout.run_files("usae")["meta"])
    assert run.models == config["models"] and (run.n_concepts, run.k) == (64, 8)
    assert {name: spec.image_size for name, spec in run.specs.items()} == {
        "efficientnet_lite0": 224,
        "efficientnet_lite1": 240,
    }
    assert all(spec.layer == "blocks.6" for spec in run.specs.values())
    assert run.grids == {name: [7, 7] for name in run.models} and set(run.dtypes.values()) == {"float16"}
    assert run.stats == {name: tuple(meta["stats"][name]) for name in run.models}
    assert usae.load is load


def test_remote_code_is_a_permission_of_the_caller_never_of_the_run_files(trained, tmp_path):
    """A torch.hub model's hubconf.py runs only for a model the caller lists, as the config's remote_code does."""

    def hub(meta):
        meta["model_specs"]["efficientnet_lite0"]["spec"].update(loader="torchhub", arch="owner/repo:entry")

    run_dir = copied_run(trained, tmp_path, hub)
    assert not any(spec.remote_code for spec in load(run_dir).specs.values())
    with pytest.raises(ConfigError, match="runs owner/repo's hubconf.py"):
        load(run_dir).image_tokens("efficientnet_lite0", val_paths(*trained[:2], n=1))
    allowed = load(run_dir, remote_code=["efficientnet_lite0"]).specs
    assert allowed["efficientnet_lite0"].remote_code and not allowed["efficientnet_lite1"].remote_code


def test_usae_load_widens_no_stage_code_digest():
    assert "usae.sae.trained_run" not in module_closure("usae.stages.extract")


def test_encode_is_the_encoder_on_tokens_standardised_with_the_run_statistics(trained):
    config, layout, run, module = trained
    batches = evaluation_batches(
        jobs.stores(config, layout, config["dataset"]["name"], "val"), read_json(layout.run_files("usae")["meta"])
    )
    for model in run.models:
        x_BD = batches.read(model, np.arange(2))
        with torch.no_grad():
            expected_BM = module.encode(model, x_BD)[1].numpy()
        raw_NTD = val_store(config, layout, model).images(0, 2)
        np.testing.assert_array_equal(run.encode(model, raw_NTD), expected_BM.reshape(2, -1, run.n_concepts))
        np.testing.assert_array_equal(run.encode(model, x_BD.numpy(), standardised=True), expected_BM)


def test_decode_of_encode_is_the_sae_reconstruction_destandardised(trained):
    config, layout, run, module = trained
    source, target = run.models
    raw_NTD = val_store(config, layout, source).images(0, 2).astype(np.float32)
    codes_NTM = run.encode(source, raw_NTD)
    x_BD = torch.from_numpy(standardise(raw_NTD.reshape(-1, run.dims[source]), *run.stats[source]))
    with torch.no_grad():
        x_hat_BD = module.saes[source](x_BD)[2]
        across_BD = module.decode(target, torch.from_numpy(codes_NTM.reshape(-1, run.n_concepts)))
    np.testing.assert_allclose(
        run.decode(source, codes_NTM, destandardise=False).reshape(-1, run.dims[source]), x_hat_BD.numpy(), atol=1e-5
    )
    np.testing.assert_allclose(
        run.decode(source, codes_NTM).reshape(-1, run.dims[source]),
        destandardise(x_hat_BD.numpy(), *run.stats[source]),
        atol=1e-4,
    )
    assert run.decode(target, codes_NTM).shape == (2, 49, run.dims[target])
    np.testing.assert_allclose(
        run.decode(target, codes_NTM).reshape(-1, run.dims[target]),
        destandardise(across_BD.numpy(), *run.stats[target]),
        atol=1e-5,
    )


def test_image_tokens_are_the_stored_tokens_and_encode_images_their_codes(trained):
    config, layout, run, _ = trained
    paths = val_paths(config, layout)
    for model in run.models:
        stored_NTD = val_store(config, layout, model).images(0, 4).astype(np.float32)
        np.testing.assert_array_equal(run.image_tokens(model, paths, device="cpu"), stored_NTD)
        np.testing.assert_array_equal(run.encode_images(model, paths, device="cpu"), run.encode(model, stored_NTD))
    model, spec = run.models[0], run.specs[run.models[0]]
    images = [Image.open(path) for path in paths]
    pixels = np.stack([preprocess(image, spec).numpy() for image in images])
    expected = run.image_tokens(model, paths, device="cpu")
    arrays = [np.asarray(image.convert("RGB")) for image in images]
    for given in [images, np.stack(arrays), arrays, pixels]:
        np.testing.assert_array_equal(run.image_tokens(model, given, device="cpu"), expected)
    np.testing.assert_array_equal(run.image_tokens(model, paths[0], device="cpu"), expected[:1])


def test_concepts_is_the_metrics_concept_table(trained):
    config, layout, run, _ = trained
    expected = pd.read_csv(layout.metrics(config["dataset"]["name"], "concepts.csv"))
    pd.testing.assert_frame_equal(run.concepts(), expected)
    pd.testing.assert_frame_equal(run.concepts(config["dataset"]["name"]), expected)
    assert "missing; run 'usae metrics' first" in one_line_error(run.concepts, "imagenet")


def test_concepts_join_the_seed_stability_beside_them(tmp_path):
    frame = pd.DataFrame({"concept": [0, 1, 2], "kind": ["universal", "dead", "mixed"], "entropy": [0.9, 0.0, 0.5]})
    frame.to_csv(tmp_path / "concepts.csv", index=False)
    pd.testing.assert_frame_equal(concept_table(tmp_path / "concepts.csv"), frame)
    stability = pd.DataFrame(
        {"concept": [2, 0, 1], "kind": ["mixed", "universal", "dead"], "joint_stability": [0.2, 0.9, 0.1]}
    )
    stability.to_csv(tmp_path / "stability.csv", index=False)
    joined = concept_table(tmp_path / "concepts.csv")
    assert joined.columns.tolist() == ["concept", "kind", "entropy", "joint_stability"]
    assert joined["joint_stability"].tolist() == [0.9, 0.1, 0.2]


def test_bad_input_is_refused_in_one_line(trained, tmp_path):
    config, layout, run, _ = trained
    model = run.models[0]
    assert "no model 'resnet' in this run (its models: efficientnet_lite0, efficientnet_lite1)" in one_line_error(
        run.encode, "resnet", np.zeros((2, 320))
    )
    assert "no model 'resnet'" in one_line_error(run.encode_images, "resnet", val_paths(config, layout, 1))
    assert "activations of shape (2, 5): model 'efficientnet_lite0' of this run takes (..., 320)" in one_line_error(
        run.encode, model, np.zeros((2, 5))
    )
    assert "codes of shape (2, 320)" in one_line_error(run.decode, model, np.zeros((2, 320)))
    assert "takes (N, H, W, 3) uint8 images or (N, 3, 224, 224)" in one_line_error(
        run.image_tokens, model, np.zeros((1, 3, 100, 100), np.float32)
    )
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    assert f"{tmp_path / 'broken.jpg'}: not a readable image" in one_line_error(
        run.image_tokens, model, [tmp_path / "broken.jpg"]
    )
    assert "not a readable image" in one_line_error(run.image_tokens, model, [tmp_path / "absent.png"])
    (tmp_path / "bomb.png").write_bytes(_png_header_only(200000, 200000))  # refused before decoding
    assert "bomb.png: not a readable image (DecompressionBombError" in one_line_error(
        run.encode_images, model, [tmp_path / "bomb.png"]
    )
    assert "no images to encode" in one_line_error(run.image_tokens, model, [])
    assert (
        "a ndarray of shape (8, 8) (uint8) in the list; each is an image file's path, a PIL image or a uint8 (H, W, 3)"
        in (one_line_error(run.image_tokens, model, [np.zeros((8, 8), np.uint8)]))
    )
    assert "N >= 1" in one_line_error(run.image_tokens, model, np.zeros((0, 8, 8, 3), np.uint8))


def test_a_run_folder_without_weights_or_model_specs_is_refused_in_one_line(trained, tmp_path):
    no_weights = copied_run(trained, tmp_path / "a", files=["model.json"])
    assert f"{no_weights}: no model.safetensors" in one_line_error(load, no_weights)
    old = copied_run(trained, tmp_path / "b", edit=lambda meta: meta.pop("model_specs"))
    assert "model.json has no 'model_specs'" in one_line_error(load, old)


def test_a_run_on_imported_activations_encodes_them_but_not_images(tmp_path, rng):
    acts, _ = planted_activations(rng, 32, 4, {"a": 8, "b": 6}, n_shared=8, n_specific=2, active=2)
    stores = write_planted_stores(tmp_path / "stores", acts)
    train = {"n_concepts": 16, "k": 2, "batch_images": 8, "epochs": 1}
    options = TrainOptions.from_config(validate_config({"train": train}, "test"))
    module = UniversalRun(TokenBatches(stores, batch_images=8), options, *run_files(tmp_path / "run")).run().eval()
    run = load(tmp_path / "run")
    assert run.specs == {"a": None, "b": None} and run.grids == {"a": [2, 2], "b": [2, 2]}
    assert run.dtypes == {"a": "float32", "b": "float32"}
    with torch.no_grad():
        expected_BM = module.encode(
            "a", torch.from_numpy(standardise(acts["a"].reshape(-1, 8).astype(np.float32), *run.stats["a"]))
        )[1]
    np.testing.assert_array_equal(run.encode("a", acts["a"]).reshape(-1, 16), expected_BM.numpy())
    assert "'a' was trained on imported activations" in one_line_error(run.encode_images, "a", [tmp_path / "x.png"])
    assert "none; run 'usae metrics' first" in one_line_error(run.concepts)
