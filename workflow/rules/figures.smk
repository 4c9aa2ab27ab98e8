rule figures:
    """The paper's figures (PNG + PDF) from the experiment's metrics and the trained USAE."""
    input:
        metrics=f"{RESULTS}/metrics/{EXPERIMENT}/summary.json",
        usae=f"{RESULTS}/train/usae/model.safetensors",
    output:
        report(
            expand(f"{RESULTS}/figures/{{name}}.png", name=FIGURES),
            caption="../report/figures.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/figures.log",
    conda:
        "../envs/usae.yaml"
    params:
        figures=config["figures"],
    script:
        "../scripts/figures.py"


rule report_tables:
    """Tables (CSV + Markdown) for every evaluated dataset, and the scorecard beside the paper."""
    input:
        summaries=expand(
            f"{RESULTS}/metrics/{{dataset}}/summary.json", dataset=EVAL_DATASETS
        ),
        baseline=baseline_outputs()[:1],
    output:
        reconstruction=f"{RESULTS}/tables/reconstruction.csv",
        universality=f"{RESULTS}/tables/universality.csv",
        concepts=f"{RESULTS}/tables/concepts.csv",
        scorecard=f"{RESULTS}/scorecard.md",
    log:
        f"{RESULTS}/logs/report_tables.log",
    conda:
        "../envs/usae.yaml"
    script:
        "../scripts/report_tables.py"
