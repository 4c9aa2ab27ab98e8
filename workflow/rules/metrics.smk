for RULE, LAYOUT, JOB, INPUT, PARAMS in families("metrics", dataset="{dataset}"):

    rule:
        """Universality and importance metrics of the trained USAE on one dataset's val split."""
        name:
            RULE
        input:
            unpack(INPUT),
        output:
            **JOB.output,
        log:
            LAYOUT.log("metrics", "{dataset}"),
        benchmark:
            LAYOUT.benchmark("metrics", "{dataset}")
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
