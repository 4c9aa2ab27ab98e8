"""Stage record: the resolved config, written beside the outputs it describes."""

import yaml

from usae import jobs
from usae.config import validate_config
from usae.layout import Layout
from usae.stages.record import record


def test_the_record_is_the_resolved_config_after_every_other_output(tmp_path):
    config = validate_config({"results": str(tmp_path / "results"), "train": {"lr": 0.01}}, "c.yaml")
    layout = Layout(config["results"])
    job = jobs.planned_jobs(config, layout)[-1]
    others = [path for other in jobs.planned_jobs(config, layout)[:-1] for path in other.output_paths()]
    assert job.stage == "record" and job.input["outputs"] == others  # it waits for every other output
    record(**job.input, **job.output, **job.params())
    written = (tmp_path / "results" / "config.yaml").read_text()
    assert written.startswith("# The resolved config") and yaml.safe_load(written) == config
