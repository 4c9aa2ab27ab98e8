rule extract:
    """Activation extraction: one model's tokens of one split into a sharded, memory-mappable store."""
    input:
        manifest=rules.fetch.output.manifest,
    output:
        store=L.store("{dataset}", "{split}", "{model}"),
    log:
        L.log("extract", "{dataset}", "{split}", "{model}"),
    benchmark:
        L.benchmark("extract", "{dataset}", "{split}", "{model}")
    conda:
        "../envs/usae.yaml"
    threads: THREADS
    resources:
        gpu=uses_gpu(config["extract"]["device"]),
    params:
        model=lambda wc: wc.model,
        zoo_entry=lambda wc: config["model_zoo"].get(wc.model),
        options=config["extract"],
        seed=config["seed"],
        code=code("extract"),
    script:
        "../scripts/extract.py"
