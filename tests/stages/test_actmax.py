"""Stage actmax: images of the chosen concepts for every model, Fig. 8 and the cross-activation table."""

import pandas as pd

from usae.options import ActmaxOptions
from usae.stages.actmax import actmax, chosen_concepts


def _actmax(config, layout, options, tmp_path):
    """The actmax stage on the tiny evaluated run, writing Fig. 8 (f), the table (t) and images under ``tmp_path``."""
    return actmax(
        layout.run_files("usae")["weights"],
        layout.run_files("usae")["meta"],
        layout.metrics(config["dataset"]["name"], "concepts.csv"),
        layout.metrics(config["dataset"]["name"], "summary.json"),
        [tmp_path / "f.png", tmp_path / "f.pdf"],
        [tmp_path / "t.csv", tmp_path / "t.md"],
        tmp_path / "images",
        options=options,
        model_zoo={},
        grid=config["extract"]["grid"],
        seed=0,
    )


def test_actmax_files(tiny_evaluated, tmp_path):
    config, layout = tiny_evaluated
    options = ActmaxOptions.from_config(config, concepts=(3,), steps=2)
    table = _actmax(config, layout, options, tmp_path)
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [
        f"concept_00003_{m}.png" for m in config["models"]
    ]
    assert list(table["optimised_for"]) == config["models"] and set(config["models"]) <= set(table.columns)
    assert pd.read_csv(tmp_path / "t.csv").shape == table.shape and (tmp_path / "f.pdf").exists()


def test_a_run_with_no_concept_to_render_writes_an_empty_table_and_says_why(tiny_evaluated, tmp_path):
    """No universal and no model-specific concept (a five-model tiny run had none): Fig. 8 says so in words."""
    config, layout = tiny_evaluated
    options = ActmaxOptions.from_config(config, universal=0, specific_per_model=0, steps=2)
    table = _actmax(config, layout, options, tmp_path)
    assert table.empty and set(config["models"]) <= set(pd.read_csv(tmp_path / "t.csv").columns)
    assert (tmp_path / "f.png").exists() and not any((tmp_path / "images").iterdir())


def test_model_specific_concepts_are_labelled_with_display_names():
    frame = pd.DataFrame(
        {
            "concept": [0, 1],
            "fires_a": [10, 0],
            "fires_b": [0, 0],
            "entropy": [0.0, 0.0],
            "cofires": [0, 0],
            "energy_total": [2.0, 1.0],
            "energy_a": [2.0, 0.0],
            "energy_b": [0.0, 0.0],
            "dead": [False, True],
        }
    )
    options = ActmaxOptions(universal=0, specific_per_model=1)
    labels = [label for _, label in chosen_concepts(options, frame, ["a", "b"], 1, {"a": "Model A"})]
    assert labels == ["concept 0 (Model A)"]
