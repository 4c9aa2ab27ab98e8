for RULE, LAYOUT, JOB, PARAMS in families("train", kind="{kind}"):

    rule:
        """USAE (kind=usae) or independent-SAE baseline (kind=independent) training; resumes from checkpoints."""
        name:
            RULE
        input:
            **JOB.input,
        output:
            **flagged(
                JOB.output,
                report,
                "curves",
                caption="../report/curves.rst",
                category="Training",
            ),
        log:
            LAYOUT.log("train", "{kind}"),
        benchmark:
            LAYOUT.benchmark("train", "{kind}")
        conda:
            "../envs/usae.yaml"
        threads: THREADS
        resources:
            gpu=uses_gpu(config["train"]["device"]),
            cpus_per_gpu=job_threads,
            mem_mb=16000,
            runtime=240,
        params:
            job=PARAMS,
            code=code("train"),
        script:
            "../scripts/train.py"
