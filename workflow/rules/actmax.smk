ACTMAX = job("actmax")


rule actmax:
    """Coordinated activation maximisation of chosen concepts in every model (Fig. 8), with lucent."""
    input:
        **ACTMAX.input,
    output:
        **flagged(
            flagged(ACTMAX.output, directory, "images"),
            report,
            "figure",
            caption="../report/actmax.rst",
            category="Figures",
        ),
    log:
        R.log("actmax"),
    benchmark:
        R.benchmark("actmax")
    conda:
        "../envs/usae.yaml"
    threads: THREADS
    resources:
        gpu=uses_gpu(config["train"]["device"]),
        cpus_per_gpu=job_threads,
        mem_mb=8000,
        runtime=60,
    params:
        job=job_params("actmax"),
        code=code("actmax"),
    script:
        "../scripts/actmax.py"
