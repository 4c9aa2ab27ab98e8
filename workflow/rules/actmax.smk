# The stage's contract (files, params, config keys): docs/stages.md#actmax
ACTMAX = job("actmax")


rule actmax:
    """Coordinated activation maximisation of chosen concepts in every model (Fig. 8), with lucent."""
    input:
        **ACTMAX.input,
    output:
        **flagged(
            flagged(ACTMAX.output, directory, "images"),
            report,
            "figure",
            caption="../report/actmax.rst",
            category="Figures",
        ),
    log:
        R.log("actmax"),
    benchmark:
        R.benchmark("actmax")
    conda:
        "../envs/usae.yaml"
    threads: THREADS
    resources:
        **RESOURCES["actmax"],
    params:
        job=job_params("actmax"),
        code=code("actmax"),
        stage="actmax",
    script:
        "../scripts/stage.py"
