"""Rule metrics: evaluate the trained SAEs on one dataset's val split."""

from pathlib import Path

import torch
from usae.evaluation_stage import metrics_stage
from usae.io import redirect_output

redirect_output(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
summary = metrics_stage(
    snakemake.config, snakemake.wildcards.dataset, Path(snakemake.input.usae).parent,  # noqa: F821
    Path(snakemake.input.independent[0]).parent if snakemake.input.independent else None,  # noqa: F821
    Path(snakemake.output.summary).parent,  # noqa: F821
)
print(summary)
