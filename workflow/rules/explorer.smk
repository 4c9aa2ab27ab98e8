# The stage's contract (files, params, config keys): docs/stages.md#explorer
EXPLORER = job("explorer")


rule explorer:
    """The concept explorer: a static site (open results/explorer/index.html from disk)."""
    input:
        **EXPLORER.input,
    output:
        **flagged(EXPLORER.output, directory, "site"),
    log:
        R.log("explorer"),
    benchmark:
        R.benchmark("explorer")
    conda:
        "../envs/usae.yaml"
    threads: THREADS
    resources:
        **RESOURCES["explorer"],
    params:
        job=job_params("explorer"),
        code=code("explorer"),
        stage="explorer",
    script:
        "../scripts/stage.py"
