"""benchmarks/search.py: every candidate of each candidates file is a valid experiment over its base config."""

import importlib.util
from pathlib import Path

import pytest
import yaml

from usae.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("search", ROOT / "benchmarks" / "search.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("candidates", ["search_default.yaml", "search_zoo.yaml"])
def test_every_candidate_resolves_over_its_base(tmp_path, candidates):
    search = _script()
    groups = yaml.safe_load((ROOT / "benchmarks" / candidates).read_text())
    assert groups["replicates"] >= 2, "every candidate over at least 2 replicates"
    for path in (ROOT / "config").glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    base = load_config(tmp_path / groups["extends"])
    names = [name for group in ("usae_only", "full") for name in groups[group]]
    assert len(names) == len(set(names)), "a candidate's results folder is its name"
    for group, independent in (("usae_only", False), ("full", True)):
        for name, keys in groups[group].items():
            config = search.candidate_config(name, keys or {}, independent, groups["extends"], groups["replicates"])
            path = tmp_path / f"search_{name}.yaml"
            path.write_text(yaml.safe_dump(config))
            config = load_config(path)
            assert config["results"] == f"results/search/{name}"
            assert config["train"] == {
                **base["train"],
                "replicates": groups["replicates"],
                "independent": independent,
                **(keys or {}),
            }
            assert config["extract"] == base["extract"] and config["models"] == base["models"]
