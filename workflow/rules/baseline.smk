rule baseline:
    """Independent-SAE baseline: Hungarian matching of concepts to the USAE's (Figs. 7 and 16)."""
    input:
        usae=f"{RESULTS}/train/usae/model.safetensors",
        independent=f"{RESULTS}/train/independent/model.safetensors",
        concepts=f"{RESULTS}/metrics/{EXPERIMENT}/concepts.csv",
    output:
        pairs=expand(f"{RESULTS}/baseline/pairs_{{model}}.csv", model=config["models"]),
        table=f"{RESULTS}/tables/baseline_matching.csv",
        figures=report(
            [
                f"{RESULTS}/figures/fig7_matching.png",
                f"{RESULTS}/figures/fig16_matching_top_cofiring.png",
                f"{RESULTS}/figures/fig7b_matched_pairs.png",
            ],
            caption="../report/baseline.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/baseline.log",
    benchmark:
        f"{RESULTS}/benchmarks/baseline.tsv"
    conda:
        "../envs/usae.yaml"
    threads: workflow.cores
    params:
        baseline=config["baseline"],
    script:
        "../scripts/baseline.py"
