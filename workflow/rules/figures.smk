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
        mem_mb=8000,
        runtime=30,
    params:
        job=job_params("figures"),
        code=code("figures"),
    script:
        "../scripts/figures.py"
