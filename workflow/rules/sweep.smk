# The stage's contract (files, params, config keys): docs/stages.md#sweep
SWEEP = job("sweep", sweep="{sweep}")


rule sweep:
    """One sweep's summary (a row per point: R2, dead share, entropy, co-fire, Fig. 7 share, claims) and figure."""
    input:
        unpack(lambda wildcards: jobs.sweep(config, L, wildcards.sweep).input),
    output:
        **SWEEP.output,
    log:
        L.log("sweep", "{sweep}"),
    localrule: True
    conda:
        "../envs/usae.yaml"
    params:
        job=job_params("sweep"),
        code=code("sweep"),
        stage="sweep",
    script:
        "../scripts/stage.py"
