# usae: Universal Sparse Autoencoders pipeline. Run `snakemake --cores all` (embedded default) or
# `snakemake --cores all --configfile config/paper.yaml` (the paper's setting, a whole config of its own).
from snakemake.utils import min_version

min_version("9.0")

# No configfile directive: common.smk resolves the config (config/config.yaml unless --configfile).


include: "workflow/rules/common.smk"


# fetch and extract make only the data folders and stores of datasets with images, in the shared cache.
wildcard_constraints:
    data="|".join(map(re.escape, DATA_FOLDERS)) or "(?!)",
    digest=f"[0-9a-f]{{{jobs.DIGEST_CHARS}}}",
    dataset="|".join(map(re.escape, DATASETS)),
    split="train|val",
    model="|".join(map(re.escape, MODELS)),
    kind="usae|independent",
    replicate=r"r\d+",
    sweep="|".join(map(re.escape, config["sweeps"])) or "(?!)",
    point="[^/]+",


include: "workflow/rules/fetch.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/train.smk"


if config["released"] is not None:

    include: "workflow/rules/released.smk"


include: "workflow/rules/metrics.smk"
include: "workflow/rules/baseline.smk"
include: "workflow/rules/actmax.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/explorer.smk"


if RUNS != [None]:

    include: "workflow/rules/stability.smk"
    include: "workflow/rules/replicates.smk"


if config["sweeps"]:

    include: "workflow/rules/sweep.smk"


include: "workflow/rules/record.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
