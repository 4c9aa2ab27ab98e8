"""``usae encode``: images through a trained run's encoder into an .npz, as the Python API computes them."""

from pathlib import Path

import numpy as np
import pytest

from usae import jobs
from usae.cli import main
from usae.data.manifest import read_manifest
from usae.sae.trained_run import load


@pytest.fixture(scope="module")
def run_and_images(tiny_trained):
    config, layout = tiny_trained
    paths = read_manifest(jobs.manifest(config, config["dataset"]["name"], "val"))["path"][:2].tolist()
    return Path(layout.run_files("usae")["weights"]).parent, paths


def test_encode_writes_the_codes_and_decodings_of_the_api(run_and_images, tmp_path, capsys):
    run_dir, paths = run_and_images
    run = load(run_dir)
    source, target = run.models
    out = tmp_path / "codes.npz"
    assert (
        main(
            [
                "encode",
                "--run",
                str(run_dir),
                "--model",
                source,
                *paths,
                "--out",
                str(out),
                "--decode-into",
                target,
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == (
        f"{out}: codes of 2 images x 49 tokens x 64 concepts through {source}, decoded into {target}"
    )
    codes_NTM = run.encode_images(source, paths, device="cpu")
    with np.load(out) as written:
        assert sorted(written) == ["codes", f"decoded_{target}", "images", "model"]
        np.testing.assert_array_equal(written["codes"], codes_NTM)
        np.testing.assert_array_equal(written[f"decoded_{target}"], run.decode(target, codes_NTM))
        assert written["images"].tolist() == paths and str(written["model"]) == source
    assert [path.name for path in tmp_path.iterdir()] == ["codes.npz"]  # written atomically, no temporary left


@pytest.mark.parametrize("case", ["unknown model", "unknown decode model", "no weights", "unreadable image"])
def test_bad_input_exits_2_with_one_line(run_and_images, tmp_path, capsys, case):
    run_dir, paths = run_and_images
    (tmp_path / "broken.png").write_bytes(b"not a png")
    args = {
        "unknown model": ["--model", "resnet", *paths],
        "unknown decode model": ["--model", "efficientnet_lite0", *paths, "--decode-into", "resnet"],
        "no weights": ["--model", "efficientnet_lite0", *paths],
        "unreadable image": ["--model", "efficientnet_lite0", str(tmp_path / "broken.png")],
    }[case]
    run = str(tmp_path if case == "no weights" else run_dir)
    assert main(["encode", "--run", run, *args, "--out", str(tmp_path / "codes.npz"), "--device", "cpu"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("usae: error: ") and error.count("\n") == 1
    assert {
        "unknown model": "no model 'resnet'",
        "unknown decode model": "no model 'resnet'",
        "no weights": "no model.safetensors",
        "unreadable image": "not a readable image",
    }[case] in error
    assert not (tmp_path / "codes.npz").exists()
