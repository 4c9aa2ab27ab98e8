rule baseline:
    """Independent-SAE baseline: Hungarian matching of concepts to the USAE's (Figs. 7, 7b and 16)."""
    input:
        usae_weights=trained("usae")[0],
        usae_meta=trained("usae")[1],
        independent_weights=trained("independent")[0],
        independent_meta=trained("independent")[1],
        concepts=L.metrics(EXPERIMENT, "concepts.csv"),
        stores=L.stores(EXPERIMENT, "val", MODELS),
        manifest=val_manifest(),
    output:
        pairs=[L.pairs(model) for model in MODELS],
        table=multiext(L.table("baseline_matching"), *TABLE_FORMATS),
        fig7=report(
            multiext(L.figure("fig7_matching"), *FIGURE_FORMATS),
            caption="../report/baseline.rst",
            category="Figures",
        ),
        fig16=report(
            multiext(L.figure("fig16_matching_top_cofiring"), *FIGURE_FORMATS),
            caption="../report/baseline.rst",
            category="Figures",
        ),
        fig7b=(
            report(
                multiext(L.figure("fig7b_matched_pairs"), *FIGURE_FORMATS),
                caption="../report/baseline.rst",
                category="Figures",
            )
            if IMAGES
            else []
        ),
    log:
        L.log("baseline"),
    benchmark:
        L.benchmark("baseline")
    conda:
        "../envs/usae.yaml"
    threads: THREADS
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        top_cofiring=config["baseline"]["top_cofiring"],
        batch_images=config["metrics"]["batch_images"],
        gallery_images=config["figures"]["gallery_images"],
        seed=config["seed"],
        code=code("baseline"),
    script:
        "../scripts/baseline.py"
