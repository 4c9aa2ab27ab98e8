"""Rule fetch: write one split's manifest and rejects list."""

from usae.io import redirect_output
from usae.stages import fetch_split

redirect_output(snakemake.log[0])  # noqa: F821
manifest = fetch_split(
    snakemake.config, snakemake.wildcards.dataset, snakemake.wildcards.split,  # noqa: F821
    manifest_file=snakemake.output.manifest, rejects_file=snakemake.output.rejects,  # noqa: F821
)
print(f"{len(manifest)} images")
