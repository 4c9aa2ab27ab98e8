# The stage's contract (files, params, config keys): docs/stages.md#figures
FIGURES = job("figures")


rule figures:
    """The paper's figures (PNG + PDF) from the experiment's metrics and the trained USAE."""
    input:
        **FIGURES.input,
    output:
        **flagged(
            FIGURES.output,
            report,
            *FIGURES.output,
            caption="../report/figures.rst",
            category="Figures",
        ),
    log:
        R.log("figures"),
    conda:
        "../envs/usae.yaml"
    threads: THREADS
    resources:
        **RESOURCES["figures"],
    params:
        job=job_params("figures"),
        code=code("figures"),
        stage="figures",
    script:
        "../scripts/stage.py"
