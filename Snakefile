# usae: Universal Sparse Autoencoders pipeline. Run `snakemake --cores all` (embedded default) or
# `snakemake --cores all --configfile config/paper.yaml` (the paper's setting).
configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/fetch.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/baseline.smk"
include: "workflow/rules/actmax.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
