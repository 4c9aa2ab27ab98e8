"""Rule train: the USAE or the independent SAEs, from the experiment's training stores."""

from pathlib import Path

import torch
from usae.io import redirect_output
from usae.stages import train_stage

redirect_output(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
train_stage(snakemake.config, snakemake.wildcards.kind, out_dir=Path(snakemake.output.model).parent)  # noqa: F821
