"""Rule baseline: Hungarian matching of independent-SAE concepts to USAE concepts."""

from pathlib import Path

import torch
from usae.baseline_stage import baseline_stage
from usae.io import redirect_output

redirect_output(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
table = baseline_stage(
    snakemake.config, snakemake.config["dataset"]["name"], Path(snakemake.input.usae).parent,  # noqa: F821
    Path(snakemake.input.independent).parent, snakemake.input.concepts,  # noqa: F821
    Path(snakemake.output.pairs[0]).parent, Path(snakemake.output.figures[0]).parent,  # noqa: F821
    Path(snakemake.output.table).parent,  # noqa: F821
)
print(table.to_string())
