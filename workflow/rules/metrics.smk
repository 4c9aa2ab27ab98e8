# The stage's contract (files, params, config keys): docs/stages.md#metrics
for RULE, LAYOUT, JOB, INPUT, PARAMS in families("metrics", dataset="{dataset}"):

    rule:
        """Universality and importance metrics of the trained USAE on one dataset's val split."""
        name:
            RULE
        input:
            unpack(INPUT),
        output:
            **JOB.output,
        log:
            LAYOUT.log("metrics", "{dataset}"),
        benchmark:
            LAYOUT.benchmark("metrics", "{dataset}")
        conda:
            "../envs/usae.yaml"
        threads: THREADS
        resources:
            **RESOURCES["metrics"],
        params:
            job=PARAMS,
            code=code("metrics"),
            stage="metrics",
        script:
            "../scripts/stage.py"
