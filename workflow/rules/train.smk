rule train:
    """USAE (kind=usae) or independent-SAE baseline (kind=independent) training; resumes from checkpoints."""
    input:
        stores=L.stores(EXPERIMENT, "train", MODELS),
    output:
        weights=L.trained("{kind}", "model.safetensors"),
        meta=L.trained("{kind}", "model.json"),
        log_csv=L.trained("{kind}", "log.csv"),
        curves=report(
            multiext(L.trained("{kind}", "curves"), *FIGURE_FORMATS),
            caption="../report/curves.rst",
            category="Training",
        ),
    log:
        L.log("train", "{kind}"),
    benchmark:
        L.benchmark("train", "{kind}")
    conda:
        "../envs/usae.yaml"
    threads: THREADS
    resources:
        gpu=uses_gpu(config["train"]["device"]),
        cpus_per_gpu=job_threads,
        mem_mb=16000,
        runtime=240,
    params:
        kind=lambda wc: wc.kind,
        options=config["train"],
        seed=config["seed"],
        code=code("train"),
    script:
        "../scripts/train.py"
