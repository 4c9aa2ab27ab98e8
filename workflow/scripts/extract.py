"""Rule extract: one model's activation store of one split."""

from pathlib import Path

import torch
from usae.io import redirect_output
from usae.stages import extract_split

redirect_output(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
meta = extract_split(
    snakemake.config, snakemake.wildcards.dataset, snakemake.wildcards.split,  # noqa: F821
    snakemake.wildcards.model, manifest_file=snakemake.input.manifest,  # noqa: F821
    store_dir=Path(snakemake.output.meta).parent, progress=True,  # noqa: F821
)
print(f"{meta['n_images']} images x {meta['tokens']} tokens x {meta['dim']} dims")
