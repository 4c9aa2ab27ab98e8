rule actmax:
    """Coordinated activation maximisation of chosen concepts in every model (Fig. 8), with lucent."""
    input:
        usae_weights=trained("usae")[0],
        usae_meta=trained("usae")[1],
        concepts=L.metrics(EXPERIMENT, "concepts.csv"),
    output:
        figure=report(
            multiext(L.figure("fig8_actmax"), *FIGURE_FORMATS),
            caption="../report/actmax.rst",
            category="Figures",
        ),
        table=multiext(L.table("actmax_cross_activation"), *TABLE_FORMATS),
        images=directory(L.actmax_images()),
    log:
        L.log("actmax"),
    benchmark:
        L.benchmark("actmax")
    conda:
        "../envs/usae.yaml"
    threads: THREADS
    resources:
        gpu=uses_gpu(config["train"]["device"]),
        cpus_per_gpu=job_threads,
        mem_mb=8000,
        runtime=60,
    params:
        options=config["actmax"],
        model_zoo={
            m: config["model_zoo"][m] for m in MODELS if m in config["model_zoo"]
        },
        grid=config["extract"]["grid"],
        seed=config["seed"],
        code=code("actmax"),
    script:
        "../scripts/actmax.py"
