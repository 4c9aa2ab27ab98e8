for RULE, LAYOUT, JOB, PARAMS in families("metrics", dataset="{dataset}"):

    rule:
        """Universality and importance metrics of the trained USAE on one dataset's val split."""
        name:
            RULE
        input:
            **JOB.input,
        output:
            **JOB.output,
        log:
            LAYOUT.log("metrics", "{dataset}"),
        benchmark:
            LAYOUT.benchmark("metrics", "{dataset}")
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
            job=PARAMS,
            code=code("metrics"),
        script:
            "../scripts/metrics.py"
