TRAIN = job("train", kind="{kind}")


rule train:
    """USAE (kind=usae) or independent-SAE baseline (kind=independent) training; resumes from checkpoints."""
    input:
        **TRAIN.input,
    output:
        **flagged(
            TRAIN.output,
            report,
            "curves",
            caption="../report/curves.rst",
            category="Training",
        ),
    log:
        R.log("train", "{kind}"),
    benchmark:
        R.benchmark("train", "{kind}")
    conda:
        "../envs/usae.yaml"
    threads: THREADS
    resources:
        gpu=uses_gpu(config["train"]["device"]),
        cpus_per_gpu=job_threads,
        mem_mb=16000,
        runtime=240,
    params:
        job=job_params("train"),
        code=code("train"),
    script:
        "../scripts/train.py"
