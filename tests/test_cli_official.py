"""``usae import-official`` and ``usae export-official`` on a small stand-in release (tests/official_release.py)."""

import numpy as np
import torch

from tests.official_release import DIMS, STATS, K, write_release
from usae.activations.batches import evaluation_batches
from usae.activations.store import write_store
from usae.cli import main
from usae.io import read_json
from usae.sae.checkpoint import load_trained
from usae.sae.official_yaml import OFFICIAL_MODELS


def test_import_official_writes_a_run_that_evaluation_reads(tmp_path, capsys, rng):
    config, _ = write_release(tmp_path)
    assert main(["import-official", str(config), "--out", str(tmp_path / "run")]) == 0
    assert capsys.readouterr().out.strip() == (
        f"{tmp_path / 'run'}: USAE of SigLIP=siglip_vitb16, DinoV2=dinov2_vits14_hub, ViT=vit_b16; m = 32, k = {K}"
    )
    usae, meta = load_trained(tmp_path / "run" / "model.safetensors", tmp_path / "run" / "model.json")
    acts = {name: rng.normal(size=(3, 4, d)).astype(np.float32) for name, d in DIMS.items()}
    for name, acts_NTD in acts.items():
        write_store(tmp_path / name, acts_NTD, ["a", "b", "c"], OFFICIAL_MODELS[name], dtype="float32")
    batches = evaluation_batches([tmp_path / name / "meta.json" for name in DIMS], meta)
    for name, acts_NTD in acts.items():
        ours = OFFICIAL_MODELS[name]
        assert batches.stats[ours] == STATS[name]  # the released statistics, not the stores' own
        x_BD = batches.read(ours, np.arange(3))
        expected = (acts_NTD.reshape(-1, DIMS[name]) - STATS[name][0]) / (STATS[name][1] + 1e-5)
        torch.testing.assert_close(x_BD, torch.from_numpy(expected).float())
        with torch.no_grad():
            assert ((usae.encode(ours, x_BD)[1] > 0).sum(dim=1) <= K).all()


def test_export_official_then_import_with_a_model_option(tmp_path, capsys):
    config, _ = write_release(tmp_path)
    assert (
        main(["import-official", str(config), "--out", str(tmp_path / "run"), "--model", "DinoV2=dinov2_vits14"]) == 0
    )
    assert main(["export-official", str(tmp_path / "run"), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-4:] == [
        str(tmp_path / "out" / "config.yaml"),
        *(str(tmp_path / "out" / f"uni_{name}_checkpoint_29.pth") for name in DIMS),
    ]
    assert (
        main(
            [
                "import-official",
                str(tmp_path / "out" / "config.yaml"),
                "--out",
                str(tmp_path / "back"),
                "--model",
                "DinoV2=dinov2_vits14",
            ]
        )
        == 0
    )
    assert read_json(tmp_path / "back" / "model.json")["stats"] == read_json(tmp_path / "run" / "model.json")["stats"]


def test_import_official_errors_are_one_line_and_exit_2(tmp_path, capsys):
    config, _ = write_release(tmp_path)
    (config.parent / "uni_ViT_checkpoint_29.pth").unlink()
    assert main(["import-official", str(config), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"usae: error: {config.parent / 'uni_ViT_checkpoint_29.pth'}: missing "
        f"(model_zoo.ViT.checkpoint_path in {config})\n"
    )
    assert not (tmp_path / "run").exists()
    assert main(["export-official", str(tmp_path / "run"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"usae: error: {tmp_path / 'run' / 'model.json'}: missing\n"
