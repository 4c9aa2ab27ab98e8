"""benchmarks/default_search.py: every candidate is a valid experiment over the default, with 3 replicates."""

import importlib.util
from pathlib import Path

import yaml

from usae.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("default_search", ROOT / "benchmarks" / "default_search.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_candidate_resolves_over_the_default(tmp_path):
    search = _script()
    groups = yaml.safe_load((ROOT / "benchmarks" / "default_search.yaml").read_text())
    (tmp_path / "config.yaml").write_text((ROOT / "config" / "config.yaml").read_text())
    default = load_config(tmp_path / "config.yaml")
    for group, independent in (("usae_only", False), ("full", True)):
        for name, keys in groups[group].items():
            path = tmp_path / f"search_{name}.yaml"
            path.write_text(yaml.safe_dump(search.candidate_config(name, keys or {}, independent)))
            config = load_config(path)
            assert config["results"] == f"results/search/{name}"
            assert config["train"] == {**default["train"], "replicates": 3, "independent": independent, **keys}
            assert config["extract"] == default["extract"] and config["models"] == default["models"]
