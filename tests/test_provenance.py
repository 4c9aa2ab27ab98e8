"""Which library modules each stage runs, and the digest that makes Snakemake rerun it."""

import pytest

from usae.provenance import code_digest, module_closure

STAGES = ["fetch", "extract", "train", "metrics", "baseline", "actmax", "figures", "tables"]


def test_closures_follow_the_imports():
    extract = module_closure("usae.stages.extract")
    assert {
        "usae",
        "usae.stages",
        "usae.stages.extract",
        "usae.activations.extraction",
        "usae.models.loaders",
        "usae.activations.store",
    } <= set(extract)
    assert "usae.sae.modules" not in extract and "usae.analysis.plots" not in extract
    assert "usae.sae.modules" in module_closure("usae.stages.train")
    assert "usae.sae.modules" in module_closure(
        "usae.stages.metrics"
    )  # through usae.sae.checkpoint, a function-local import
    assert "usae.models.loaders" not in module_closure("usae.stages.tables")


def test_every_stage_has_its_own_digest():
    digests = {stage: code_digest(f"usae.stages.{stage}") for stage in STAGES}
    assert len(set(digests.values())) == len(STAGES)
    assert all(len(value) == 64 for value in digests.values())
    assert code_digest("usae.stages.train") == digests["train"]


def test_unknown_module_is_refused():
    with pytest.raises(ModuleNotFoundError, match="usae.nosuch"):
        code_digest("usae.nosuch")
