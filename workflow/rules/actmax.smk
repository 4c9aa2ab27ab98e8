rule actmax:
    """Coordinated activation maximisation of chosen concepts in every model (Fig. 8), with lucent."""
    input:
        usae=f"{RESULTS}/train/usae/model.safetensors",
        concepts=f"{RESULTS}/metrics/{EXPERIMENT}/concepts.csv",
    output:
        figure=report(
            f"{RESULTS}/figures/fig8_actmax.png",
            caption="../report/actmax.rst",
            category="Figures",
        ),
        table=f"{RESULTS}/tables/actmax_cross_activation.csv",
        images=directory(f"{RESULTS}/actmax/images"),
    log:
        f"{RESULTS}/logs/actmax.log",
    benchmark:
        f"{RESULTS}/benchmarks/actmax.tsv"
    conda:
        "../envs/usae.yaml"
    threads: workflow.cores
    resources:
        gpu=1 if config["train"]["device"] != "cpu" else 0,
    params:
        actmax=config["actmax"],
    script:
        "../scripts/actmax.py"
