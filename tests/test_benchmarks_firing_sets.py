"""benchmarks/firing_sets.py: the sets of two hand-made runs, as mean ± sd, with the families' named rows."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _run(folder, rows):
    """A metrics folder whose concepts fire in ``rows`` (sets of models), 10 times in each of their models."""
    names = ["mobilenet_v2", "efficientnet_lite0", "dinov2_vits14_imgfocus_block8"]
    folder.mkdir(parents=True)
    (folder / "matrices.json").write_text(json.dumps({"models": names}))
    fires = {
        f"{column}_{name}": [10 * (name in row) for row in rows]
        for column in ("fires", "fires_with_top")
        for name in names
    }
    pd.DataFrame({**fires, "dead": [False] * len(rows)}).to_csv(folder / "concepts.csv", index=False)
    return str(folder)


def test_sets_over_runs_and_family_rows(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"extends": str(ROOT / "config" / "config.yaml")}))
    every = {"mobilenet_v2", "efficientnet_lite0", "dinov2_vits14_imgfocus_block8"}
    runs = [
        _run(tmp_path / "r0", [every] * 3 + [{"mobilenet_v2", "efficientnet_lite0"}]),
        _run(tmp_path / "r1", [every] * 5),
    ]
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "firing_sets.py"), "--config", str(config), "--runs", *runs],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == "set_cofiring 0: 2 runs, 4.5 ± 0.7 concepts firing in some model"
    rows = {line.split("|")[1].strip(): line.split("|")[3].strip() for line in lines if line.startswith("| ")}
    assert rows["all models"] == "4.0 ± 1.4"  # 3 and 5
    assert rows["all but ViT"] == "0.5 ± 0.7"  # the two CNNs: 1 and 0
    assert "concepts by the number of models in their set: 1: 0.0 ± 0.0; 2: 0.5 ± 0.7; 3: 4.0 ± 1.4" in lines
