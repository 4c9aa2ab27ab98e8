# The stage's contract (files, params, config keys): docs/stages.md#baseline
for RULE, LAYOUT, JOB, INPUT, PARAMS in families("baseline"):

    rule:
        """Independent-SAE baseline: Hungarian matching of concepts to the USAE's (Figs. 7, 7b and 16)."""
        name:
            RULE
        input:
            unpack(INPUT),
        output:
            **flagged(
                JOB.output,
                report,
                "fig7",
                "fig16",
                "fig7b",
                caption="../report/baseline.rst",
                category="Figures",
            ),
        log:
            LAYOUT.log("baseline"),
        benchmark:
            LAYOUT.benchmark("baseline")
        conda:
            "../envs/usae.yaml"
        threads: THREADS
        resources:
            **RESOURCES["baseline"],
        params:
            job=PARAMS,
            code=code("baseline"),
            stage="baseline",
        script:
            "../scripts/stage.py"
