"""The whole DAG with five models (issue 37): two families of two, an ONNX network, outputs that scale with M."""

import json

import pandas as pd
import pytest
import yaml

from tests.workflow.test_workflow import TINY_CONFIG, copy_workflow, snakemake

pytestmark = pytest.mark.integration

# Two EfficientNets, two MobileNets and the VGG16 base read from CapSpot's ONNX file.
MODELS = ["efficientnet_lite0", "efficientnet_lite1", "mobilenet_v2", "mobilenet_v1", "vgg16_capspot"]


@pytest.fixture(scope="module")
def five(tmp_path_factory):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["models"] = MODELS
    config["train"]["independent"] = True
    # Sets by any shared token: the tiny run's encoders agree too little for the default level to put a whole
    # family in one set, and the firing-set table's naming of whole families is what this run checks.
    config["metrics"] = {**config.get("metrics", {}), "set_cofiring": 0.0}
    workdir = copy_workflow(tmp_path_factory.mktemp("five"), yaml.safe_dump(config))
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir / "results", run


def test_five_models_run_the_whole_dag_and_every_output_scales_with_m(five):
    results, _ = five
    matrices = json.loads((results / "metrics/embedded/matrices.json").read_text())
    assert (
        sorted(matrices["models"]) == sorted(MODELS)
        and len(matrices["r2"]) == 5
        and all(len(row) == 5 for row in matrices["r2"])
    )
    sets = pd.read_csv(results / "tables/firing_sets.csv")
    assert sets["concepts"].sum() > 0 and sets["size"].max() <= 5
    named = " ".join(sets["families wholly in it"].fillna(""))
    assert "all EfficientNet" in named or "all MobileNet" in named  # families of two, by the registry
    records = json.loads((results / "scorecard.json").read_text())
    ids = {record["id"] for record in records["claims"]}
    assert {f"fig6b_cfp:{name}" for name in MODELS} <= ids and {f"fig7_share:{name}" for name in MODELS} <= ids
    bimodal = next(record for record in records["claims"] if record["id"] == "fig6a_bimodal")
    assert "of 5" in bimodal["claim"]
    for name in MODELS:
        assert (results / f"baseline/pairs_{name}.csv").exists()
    assert (results / "figures/firing_sets.png").exists() and (results / "explorer/index.html").exists()
    # VGG16's block5 is 14x14 at 224 px: its store records the native grid, its log the resampling to 7x7.
    [meta] = (results / "cache/activations").glob("embedded-*/val/vgg16_capspot-*/meta.json")
    assert json.loads(meta.read_text())["native_grid"] == [14, 14]
    [log] = (results / "logs/extract").glob("*_val_vgg16_capspot-*.log")
    assert "14x14" in log.read_text()
