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
        mem_mb=4000,
        runtime=30,
    params:
        job=job_params("released"),
        code=code("released"),
    script:
        "../scripts/released.py"
