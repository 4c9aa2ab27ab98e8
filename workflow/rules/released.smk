# The stage's contract (files, params, config keys): docs/stages.md#released
RELEASED = job("released")


rule released:
    """The authors' released USAE imported as the run's trained USAE, in place of its training (config released)."""
    input:
        **RELEASED.input,
    output:
        **RELEASED.output,
    log:
        R.log("released"),
    conda:
        "../envs/usae.yaml"
    threads: 1
    resources:
        **RESOURCES["released"],
    params:
        job=job_params("released"),
        code=code("released"),
        stage="released",
    script:
        "../scripts/stage.py"
