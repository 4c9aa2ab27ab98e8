"""Rule actmax: render the chosen concepts for every model."""

import torch
from usae.actmax_stage import actmax_stage
from usae.io import redirect_output

redirect_output(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
table = actmax_stage(snakemake.config, snakemake.input.usae.rsplit("/", 1)[0], snakemake.input.concepts,  # noqa: F821
                     snakemake.output.images, snakemake.output.figure, snakemake.output.table.rsplit("/", 1)[0])  # noqa: F821
print(table.to_string())
