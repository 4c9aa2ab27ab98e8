METRICS = job("metrics", dataset="{dataset}")


rule metrics:
    """Universality and importance metrics of the trained USAE on one dataset's val split."""
    input:
        **METRICS.input,
    output:
        **METRICS.output,
    log:
        R.log("metrics", "{dataset}"),
    benchmark:
        R.benchmark("metrics", "{dataset}")
    wildcard_constraints:
        dataset="|".join(map(re.escape, DATASETS)),
    conda:
        "../envs/usae.yaml"
    threads: THREADS
    resources:
        gpu=uses_gpu(config["metrics"]["device"]),
        cpus_per_gpu=job_threads,
        mem_mb=16000,
        runtime=60,
    params:
        job=job_params("metrics"),
        code=code("metrics"),
    script:
        "../scripts/metrics.py"
