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
        gpu=uses_gpu(config["explorer"]["device"]),
        cpus_per_gpu=job_threads,
        mem_mb=8000,
        runtime=30,
    params:
        job=job_params("explorer"),
        code=code("explorer"),
    script:
        "../scripts/explorer.py"
