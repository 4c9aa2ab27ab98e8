"""Rule figures: every paper figure from the experiment's metrics."""

from pathlib import Path

from usae.figures_stage import figures_stage
from usae.io import redirect_output

redirect_output(snakemake.log[0])  # noqa: F821
figures_stage(
    snakemake.config, snakemake.config["dataset"]["name"], Path(snakemake.input.metrics).parent,  # noqa: F821
    Path(snakemake.input.usae).parent, Path(snakemake.output[0]).parent,  # noqa: F821
)
