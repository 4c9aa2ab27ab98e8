"""Import and export of the authors' released USAE format, on a small stand-in release (tests/official_release.py)."""

import fractions
import json

import pytest
import torch
import torch.nn.functional as F
import yaml
from safetensors.torch import load_file, save_file

from tests.official_release import DIMS, STATS, K, M, released_config, write_config, write_release
from usae.errors import UserError
from usae.io import file_sha256
from usae.sae import official
from usae.sae.checkpoint import load_trained
from usae.sae.modules import UniversalSAE
from usae.sae.official import export_official, import_official, read_official
from usae.sae.official_yaml import OFFICIAL_MODELS


@pytest.fixture
def release(tmp_path):
    """``(yaml path, {official model: released model_state_dict})``."""
    return write_release(tmp_path)


def pth(config, name):
    return config.parent / f"uni_{name}_checkpoint_29.pth"


def reference_encode(state, x_BD, k):
    """Linear -> BatchNorm1d (eval: running statistics) -> ReLU -> top-k, from the released tensors."""
    linear_BM = x_BD @ state["encoder.final_block.0.weight"].T + state["encoder.final_block.0.bias"]
    normed_BM = (linear_BM - state["encoder.final_block.1.running_mean"]) / torch.sqrt(
        state["encoder.final_block.1.running_var"] + 1e-5
    ) * state["encoder.final_block.1.weight"] + state["encoder.final_block.1.bias"]
    relu_BM = F.relu(normed_BM)
    top = torch.topk(relu_BM, k, dim=1)
    return torch.zeros_like(relu_BM).scatter(1, top.indices, top.values)


def reference_dictionary(state):
    """The released dictionary, each row divided by (its L2 norm + 1e-8)."""
    weights = state["dictionary._weights"]
    return weights / (weights.norm(dim=1, keepdim=True) + 1e-8)


def test_imported_usae_encodes_and_decodes_as_the_released_layout(release, tmp_path):
    config, states = release
    meta = import_official(config, tmp_path / "run")
    usae, loaded = load_trained(tmp_path / "run" / "model.safetensors", tmp_path / "run" / "model.json")
    ours = {name: OFFICIAL_MODELS[name] for name in DIMS}
    assert loaded == json.loads(json.dumps(meta))
    assert loaded["models"] == list(ours.values()) and loaded["n_concepts"] == M and loaded["k"] == K
    assert loaded["dims"] == {ours[name]: d for name, d in DIMS.items()}
    assert loaded["stats"] == {ours[name]: list(STATS[name]) for name in DIMS}
    generator = torch.Generator().manual_seed(1)
    for name, d in DIMS.items():
        mean, std = loaded["stats"][ours[name]]
        x_BD = (torch.randn(50, d, generator=generator) * STATS[name][1] + STATS[name][0] - mean) / (std + 1e-5)
        expected_BM = reference_encode(states[name], x_BD, K)
        with torch.no_grad():
            _, codes_BM = usae.encode(ours[name], x_BD)
            torch.testing.assert_close(codes_BM, expected_BM, rtol=1e-5, atol=1e-5)
            assert ((codes_BM > 0).sum(dim=1) == K).all()
            for target in DIMS:
                torch.testing.assert_close(
                    usae.decode(ours[target], codes_BM),
                    expected_BM @ reference_dictionary(states[target]),
                    rtol=1e-5,
                    atol=1e-5,
                )


def test_import_records_its_source_files_with_their_digests(release, tmp_path):
    config, _ = release
    meta = import_official(config, tmp_path / "run")
    record = meta["official"]
    assert record["config"] == {"path": str(config), "sha256": file_sha256(config)}
    assert record["names"] == {name: OFFICIAL_MODELS[name] for name in DIMS}
    assert record["yaml"] == released_config()
    for name in DIMS:
        assert record["checkpoints"][name] == {
            "path": str(pth(config, name)),
            "sha256": file_sha256(pth(config, name)),
            "epoch": 29,
            "learning_rate": pytest.approx(1e-6),
        }


def test_checkpoints_folder_and_model_names_can_be_given(release, tmp_path):
    config, _ = release
    moved = tmp_path / "elsewhere"
    config.parent.rename(moved)
    meta = import_official(moved / config.name, tmp_path / "run", checkpoints=moved, overrides=["DinoV2=dinov2_vits14"])
    assert meta["models"] == ["siglip_vitb16", "dinov2_vits14", "vit_b16"]


def test_import_export_import_gives_the_same_tensors_and_statistics(release, tmp_path):
    config, states = release
    first = import_official(config, tmp_path / "run")
    written = export_official(tmp_path / "run", tmp_path / "exported")
    assert sorted(path.name for path in written) == sorted(
        ["config.yaml", *(f"uni_{n}_checkpoint_29.pth" for n in DIMS)]
    )
    exported = yaml.safe_load((tmp_path / "exported" / "config.yaml").read_text())
    assert exported == released_config() and list(exported["model_zoo"]) == list(DIMS)
    for name in DIMS:
        saved = torch.load(
            tmp_path / "exported" / f"uni_{name}_checkpoint_29.pth", map_location="cpu", weights_only=True
        )
        assert saved["epoch"] == 29 and saved["optimizer_state_dict"] == {}
        assert saved["learning_rate"] == pytest.approx(1e-6)
        assert list(saved["model_state_dict"]) == list(states[name])
        for key, tensor in states[name].items():
            torch.testing.assert_close(saved["model_state_dict"][key], tensor, rtol=0, atol=0)
    second = import_official(tmp_path / "exported" / "config.yaml", tmp_path / "again")
    assert second["stats"] == first["stats"] and second["dims"] == first["dims"] and second["k"] == first["k"]
    assert second["official"]["yaml"] == first["official"]["yaml"]
    a, b = (load_file(tmp_path / folder / "model.safetensors") for folder in ("run", "again"))
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def test_a_run_of_ours_exports_and_imports_back(tmp_path):
    dims = {"vit_b16": 12, "mine": 6}
    usae = UniversalSAE(dims, 20, 3)
    usae.saes["mine"].encoder.norm.running_var.fill_(2.0)
    run = tmp_path / "run"
    run.mkdir()
    save_file({key: value.contiguous() for key, value in usae.state_dict().items()}, run / "model.safetensors")
    stats = {"vit_b16": [0.1, 2.0], "mine": [-0.5, 3.0]}
    (run / "model.json").write_text(
        json.dumps(
            {
                "kind": "usae",
                "models": list(dims),
                "dims": dims,
                "n_concepts": 20,
                "k": 3,
                "stats": stats,
                "epochs": 5,
                "end_lr": 1e-6,
            }
        )
    )
    export_official(run, tmp_path / "out")
    exported = yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())
    assert list(exported["model_zoo"]) == ["ViT", "mine"]  # official names where they exist
    assert exported["global"]["nb_components"] == 20 and exported["sae_params"]["top_k"] == 3
    assert exported["model_zoo"]["mine"]["checkpoint_path"] == "checkpoints/uni_mine_checkpoint_4.pth"
    meta = import_official(tmp_path / "out" / "config.yaml", tmp_path / "back", overrides=["mine=mine"])
    assert meta["stats"] == stats and meta["dims"] == dims and meta["n_concepts"] == 20
    back = load_file(tmp_path / "back" / "model.safetensors")
    assert all(torch.equal(back[key], value) for key, value in usae.state_dict().items())


def _edit_yaml(edit):
    def apply(config):
        content = released_config()
        edit(content)
        write_config(config, content)

    return apply


def _edit_state(name, edit):
    def apply(config):
        checkpoint = torch.load(pth(config, name), map_location="cpu", weights_only=True)
        edit(checkpoint["model_state_dict"])
        torch.save(checkpoint, pth(config, name))

    return apply


def _set(mapping, key, value):
    mapping[key] = value


BAD_INPUTS = {
    "missing yaml": (lambda config: config.unlink(), "{config}: missing"),
    "yaml not a mapping": (
        lambda config: config.write_text("- 1\n"),
        "{config}: not a released USAE config (not a mapping)",
    ),
    "missing pth": (
        lambda config: pth(config, "DinoV2").unlink(),
        "{DinoV2}: missing (model_zoo.DinoV2.checkpoint_path in {config})",
    ),
    "not a dict": (
        lambda config: torch.save([1, 2], pth(config, "ViT")),
        "{ViT}: not a released checkpoint (a list, not a dict)",
    ),
    "no model_state_dict": (
        lambda config: torch.save({"epoch": 29}, pth(config, "ViT")),
        "{ViT}: not a released checkpoint (no dict 'model_state_dict')",
    ),
    "refused by weights_only": (
        lambda config: torch.save({"model_state_dict": {}, "x": fractions.Fraction(1, 3)}, pth(config, "SigLIP")),
        "{SigLIP}: refused by torch.load(weights_only=True): not a checkpoint of plain tensors",
    ),
    "truncated": (
        lambda config: pth(config, "SigLIP").write_bytes(pth(config, "SigLIP").read_bytes()[:100]),
        "{SigLIP}: refused by torch.load(weights_only=True): not a checkpoint of plain tensors",
    ),
    "missing tensor": (
        _edit_state("DinoV2", lambda state: state.pop("dictionary._weights")),
        "{DinoV2}: model_state_dict lacks 'dictionary._weights'",
    ),
    "extra tensor": (
        _edit_state("DinoV2", lambda state: _set(state, "encoder.mlp_blocks.0.0.weight", torch.ones(8, 8))),
        "{DinoV2}: model_state_dict has 'encoder.mlp_blocks.0.0.weight', not in the released layout (mlp_bn_1)",
    ),
    "not a tensor": (
        _edit_state("DinoV2", lambda state: _set(state, "encoder.final_block.1.bias", [0.0] * M)),
        "{DinoV2}: model_state_dict['encoder.final_block.1.bias'] is not a tensor",
    ),
    "misshapen tensor": (
        _edit_state("DinoV2", lambda state: _set(state, "dictionary._weights", torch.ones(M, 9))),
        "{DinoV2}: model_state_dict['dictionary._weights'] has shape (32, 9), expected (32, 8) "
        "from m = 32 and model_zoo.DinoV2.input_shape = 8 in {config}",
    ),
    "nan tensor": (
        _edit_state("ViT", lambda state: state["encoder.final_block.1.running_var"].fill_(float("nan"))),
        "{ViT}: model_state_dict['encoder.final_block.1.running_var'] has NaN or inf",
    ),
    "d disagrees with the yaml": (
        _edit_yaml(lambda c: _set(c["model_zoo"]["ViT"], "input_shape", 13)),
        "{ViT}: model_state_dict['encoder.final_block.0.weight'] has shape (32, 12), expected "
        "(32, 13) from m = 32 and model_zoo.ViT.input_shape = 13 in {config}",
    ),
    "m disagrees with the yaml": (
        _edit_yaml(lambda c: _set(c["global"], "exp_factor", 4)),
        "{SigLIP}: model_state_dict['encoder.final_block.0.weight'] has shape (32, 16), "
        "expected (64, 16) from m = 64 and model_zoo.SigLIP.input_shape = 16 in {config}",
    ),
    "unmapped model": (
        _edit_yaml(lambda c: _set(c, "model_zoo", {"CLIP" if k == "ViT" else k: v for k, v in c["model_zoo"].items()})),
        "{config}: model_zoo.CLIP has no usae model; map it with --model CLIP=<usae model>",
    ),
    "missing statistic": (
        _edit_yaml(lambda c: c["model_zoo"]["DinoV2"].pop("model_std")),
        "{config}: key 'model_zoo.DinoV2.model_std' missing or not int or float",
    ),
    "bad statistic": (
        _edit_yaml(lambda c: _set(c["model_zoo"]["DinoV2"], "model_std", 0.0)),
        "{config}: model_zoo.DinoV2.model_mean / model_std must be finite with model_std > 0",
    ),
    "missing top_k": (
        _edit_yaml(lambda c: c["sae_params"].pop("top_k")),
        "{config}: key 'sae_params.top_k' missing or not int",
    ),
    "top_k above m": (
        _edit_yaml(lambda c: _set(c["sae_params"], "top_k", 33)),
        "{config}: sae_params.top_k is 33, not in 1..32 (m)",
    ),
    "missing exp_factor": (
        _edit_yaml(lambda c: c["global"].pop("exp_factor")),
        "{config}: key 'global.exp_factor' missing or not int or float",
    ),
    "missing checkpoint_path": (
        _edit_yaml(lambda c: c["model_zoo"]["ViT"].pop("checkpoint_path")),
        "{config}: key 'model_zoo.ViT.checkpoint_path' missing or not str",
    ),
    "other encoder": (
        _edit_yaml(lambda c: _set(c["sae_params"], "encoder_module", "mlp_ln_3")),
        "{config}: sae_params.encoder_module is 'mlp_ln_3'; only 'mlp_bn_1' (the release's) is supported",
    ),
    "not standardised": (
        _edit_yaml(lambda c: _set(c["global"], "standardize", False)),
        "{config}: global.standardize is not true; usae always standardises activations",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_release_is_one_line_naming_the_file_and_nothing_is_written(release, tmp_path, case):
    config, _ = release
    spoil, message = BAD_INPUTS[case]
    spoil(config)
    with pytest.raises(UserError) as caught:
        import_official(config, tmp_path / "run")
    assert str(caught.value) == message.format(config=config, **{name: pth(config, name) for name in DIMS})
    assert not (tmp_path / "run").exists() and not list(tmp_path.glob(".run.*"))


def test_bad_model_options_are_one_line(release, tmp_path):
    config, _ = release
    with pytest.raises(UserError, match=r"^--model DinoV2: expected <official name>=<usae model>, e\.g\. "):
        import_official(config, tmp_path / "run", overrides=["DinoV2"])
    with pytest.raises(UserError) as caught:
        import_official(config, tmp_path / "run", overrides=["SigLIP=vit_b16"])
    assert str(caught.value) == f"{config}: model_zoo.ViT and another model both map to usae model 'vit_b16'"


def test_a_failed_write_leaves_nothing_and_keeps_an_earlier_import(release, tmp_path, monkeypatch):
    config, _ = release
    run = tmp_path / "run"
    import_official(config, run)
    before = {path.name: path.read_bytes() for path in run.iterdir()}

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(official, "save_file", broken)
    with pytest.raises(OSError):
        import_official(config, run, overrides=["DinoV2=dinov2_vits14"])
    assert {path.name: path.read_bytes() for path in run.iterdir()} == before
    assert not list(tmp_path.glob(".run.*"))


def test_out_folders_holding_other_files_are_refused(release, tmp_path):
    config, _ = release
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "log.csv").write_text("step\n")
    with pytest.raises(UserError) as caught:
        import_official(config, tmp_path / "run")
    assert str(caught.value) == f"{tmp_path / 'run'}: exists and holds 'log.csv'; choose an empty or new --out"
    with pytest.raises(UserError) as caught:
        export_official(tmp_path / "nothing", tmp_path / "out")
    assert str(caught.value) == f"{tmp_path / 'nothing' / 'model.json'}: missing"
    import_official(config, tmp_path / "imported")
    with pytest.raises(UserError) as caught:
        export_official(tmp_path / "imported", config.parent)
    assert (
        str(caught.value)
        == f"{config.parent}: exists and holds 'config_dino_siglip_vit.yaml'; choose an empty or new --out"
    )


def test_independent_runs_are_not_exported(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    saes = torch.nn.ModuleDict({"a": UniversalSAE({"a": 4}, 8, 2).saes["a"]})
    save_file(saes.state_dict(), run / "model.safetensors")
    (run / "model.json").write_text(
        json.dumps(
            {"kind": "independent", "models": ["a"], "dims": {"a": 4}, "n_concepts": 8, "k": 2, "stats": {"a": [0, 1]}}
        )
    )
    with pytest.raises(UserError) as caught:
        export_official(run, tmp_path / "out")
    assert str(caught.value) == f"{run / 'model.json'}: kind 'independent'; export-official writes a universal SAE only"


def test_read_official_touches_no_output(release):
    config, _ = release
    files = sorted(config.parent.iterdir())
    weights, meta = read_official(config)
    assert sorted(config.parent.iterdir()) == files
    assert len(weights) == 8 * len(DIMS) and meta["kind"] == "usae"


def test_a_model_option_naming_no_released_model_is_refused(release, tmp_path):
    config, _ = release
    with pytest.raises(UserError, match=f"^--model DINO=...: {config} has no model 'DINO' under model_zoo"):
        import_official(config, tmp_path / "run", overrides=["DINO=dinov2_vits14"])
    assert not (tmp_path / "run").exists()


def test_an_imported_release_records_the_registry_specs_so_usae_load_can_encode_images(release, tmp_path):
    from usae.sae.trained_run import load

    config, _ = release
    meta = import_official(config, tmp_path / "run", overrides=["DinoV2=dinov2_vits14"])
    assert meta["model_specs"]["vit_b16"] == {
        "spec": meta["model_specs"]["vit_b16"]["spec"],
        "grid": [14, 14],
        "dtype": "float32",
    }
    assert meta["model_specs"]["siglip_vitb16"]["spec"]["arch"] == "vit_base_patch16_siglip_224.webli"
    run = load(tmp_path / "run")
    assert run.specs["dinov2_vits14"].image_size == 224 and run.grids["vit_b16"] == [14, 14]
