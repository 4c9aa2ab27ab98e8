BASELINE = job("baseline")


rule baseline:
    """Independent-SAE baseline: Hungarian matching of concepts to the USAE's (Figs. 7, 7b and 16)."""
    input:
        **BASELINE.input,
    output:
        **flagged(
            BASELINE.output,
            report,
            "fig7",
            "fig16",
            "fig7b",
            caption="../report/baseline.rst",
            category="Figures",
        ),
    log:
        R.log("baseline"),
    benchmark:
        R.benchmark("baseline")
    conda:
        "../envs/usae.yaml"
    threads: THREADS
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        job=job_params("baseline"),
        code=code("baseline"),
    script:
        "../scripts/baseline.py"
