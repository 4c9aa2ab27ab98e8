# The stage's contract (files, params, config keys): docs/stages.md#stability
STABILITY = job("stability")


rule stability:
    """Seed stability: every pair of replicate runs' concepts matched by atoms, jointly and by codes."""
    input:
        **STABILITY.input,
    output:
        **STABILITY.output,
    log:
        L.log("stability"),
    benchmark:
        L.benchmark("stability")
    conda:
        "../envs/usae.yaml"
    threads: THREADS
    resources:
        **RESOURCES["stability"],
    params:
        job=job_params("stability"),
        code=code("stability"),
        stage="stability",
    script:
        "../scripts/stage.py"
