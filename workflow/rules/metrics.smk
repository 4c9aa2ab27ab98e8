rule metrics:
    """Universality and importance metrics of the trained USAE on one dataset's val split."""
    input:
        usae_weights=trained("usae")[0],
        usae_meta=trained("usae")[1],
        independent=trained("independent") if INDEPENDENT else [],
        stores=lambda wc: L.stores(wc.dataset, "val", MODELS),
    output:
        matrices=L.metrics("{dataset}", "matrices.json"),
        concepts=L.metrics("{dataset}", "concepts.csv"),
        top_images=L.metrics("{dataset}", "top_images.npz"),
        summary=L.metrics("{dataset}", "summary.json"),
    log:
        L.log("metrics", "{dataset}"),
    benchmark:
        L.benchmark("metrics", "{dataset}")
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
        dataset=lambda wc: wc.dataset,
        options=config["metrics"],
        code=code("metrics"),
    script:
        "../scripts/metrics.py"
