# The stage's contract (files, params, config keys): docs/stages.md#replicates
REPLICATES = job("replicates")


rule replicates:
    """The scorecard over the replicate runs: each claim's mean, sd and range, and in how many runs it holds."""
    input:
        **REPLICATES.input,
    output:
        **REPLICATES.output,
    log:
        L.log("replicates"),
    localrule: True
    conda:
        "../envs/usae.yaml"
    params:
        job=job_params("replicates"),
        code=code("replicates"),
        stage="replicates",
    script:
        "../scripts/stage.py"
