rule explorer:
    """The concept explorer: a static site (open results/explorer/index.html from disk)."""
    input:
        matrices=L.metrics(EXPERIMENT, "matrices.json"),
        summary=L.metrics(EXPERIMENT, "summary.json"),
        concepts=L.metrics(EXPERIMENT, "concepts.csv"),
        top_images=L.metrics(EXPERIMENT, "top_images.npz"),
        usae_weights=trained("usae")[0],
        usae_meta=trained("usae")[1],
        stores=L.stores(EXPERIMENT, "val", MODELS),
        manifest=val_manifest(),
        figures=[L.figure(name) + ".png" for name in SITE_FIGURES],
        actmax_table=L.table("actmax_cross_activation") + ".csv" if IMAGES else [],
        actmax_images=L.actmax_images() if IMAGES else [],
    output:
        site=directory(L.explorer()),
    log:
        L.log("explorer"),
    benchmark:
        L.benchmark("explorer")
    conda:
        "../envs/usae.yaml"
    threads: THREADS
    resources:
        gpu=uses_gpu(config["explorer"]["device"]),
        cpus_per_gpu=job_threads,
        mem_mb=8000,
        runtime=30,
    params:
        options=config["explorer"],
        code=code("explorer"),
    script:
        "../scripts/explorer.py"
