"""Stage released: a stand-in release (tests/official_release.py) imported as the run's trained USAE."""

import numpy as np
import yaml

from tests.official_release import DIMS, write_release
from usae.activations.store import write_store
from usae.cli import main
from usae.io import read_json
from usae.sae.checkpoint import load_trained

NAMES = {"SigLIP": "alpha", "DinoV2": "beta", "ViT": "gamma"}


def _experiment(tmp_path, dims=DIMS):
    """A config of imported val stores of the release's three models, and its file."""
    release, _ = write_release(tmp_path)
    rng = np.random.default_rng(0)
    for theirs, ours in NAMES.items():
        write_store(
            tmp_path / "results/activations/mine/val" / ours,
            rng.normal(size=(3, 4, dims[theirs])),
            ["a", "b", "c"],
            ours,
            dtype="float32",
        )
    config = {
        "dataset": {"name": "mine", "source": "activations"},
        "models": list(NAMES.values()),
        "released": {"config": str(release), "models": NAMES},
        "train": {"independent": False},
        "results": str(tmp_path / "results"),
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_usae_released_writes_the_run_that_later_stages_read(tmp_path, capsys):
    assert main(["released", "--config", str(_experiment(tmp_path))]) == 0
    run = tmp_path / "results/train/usae"
    usae, meta = load_trained(run / "model.safetensors", run / "model.json")
    assert usae.names == list(NAMES.values()) and meta["official"]["names"] == NAMES
    assert sorted(path.name for path in run.iterdir()) == ["model.json", "model.safetensors"]
    assert read_json(run / "model.json")["dims"] == {NAMES[name]: d for name, d in DIMS.items()}


def test_a_store_of_another_dim_stops_the_import_in_one_line_before_any_write(tmp_path, capsys):
    config = _experiment(tmp_path, dims={**DIMS, "ViT": 10})
    assert main(["released", "--config", str(config)]) == 2
    store = tmp_path / "results/activations/mine/val/gamma/meta.json"
    assert capsys.readouterr().err == (
        f"usae: error: {store}: activations of dim 10, but the trained model's 'gamma' takes dim 12 (its model.json)\n"
    )
    assert not (tmp_path / "results/train/usae/model.json").exists()


def test_usae_released_without_a_release_says_why(tmp_path, capsys):
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "dataset": {"name": "mine", "source": "activations"},
                "models": ["a", "b"],
                "results": str(tmp_path / "results"),
            }
        )
    )
    (tmp_path / "results/activations/mine").mkdir(parents=True)
    assert main(["released", "--config", str(path)]) == 2
    assert capsys.readouterr().err == f"usae: error: {path}: released is null: the USAE is trained, not imported\n"
