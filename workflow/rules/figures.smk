rule figures:
    """The paper's figures (PNG + PDF) from the experiment's metrics and the trained USAE."""
    input:
        matrices=L.metrics(EXPERIMENT, "matrices.json"),
        summary=L.metrics(EXPERIMENT, "summary.json"),
        concepts=L.metrics(EXPERIMENT, "concepts.csv"),
        top_images=L.metrics(EXPERIMENT, "top_images.npz"),
        usae_weights=trained("usae")[0],
        usae_meta=trained("usae")[1],
        stores=L.stores(EXPERIMENT, "val", MODELS),
        manifest=val_manifest(),
    output:
        **{
            name: report(
                multiext(L.figure(name), *FIGURE_FORMATS),
                caption="../report/figures.rst",
                category="Figures",
            )
            for name in FIGURES
        },
    log:
        L.log("figures"),
    conda:
        "../envs/usae.yaml"
    threads: THREADS
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        options=config["figures"],
        top_concepts=config["metrics"]["top_concepts"],
        code=code("figures"),
    script:
        "../scripts/figures.py"
