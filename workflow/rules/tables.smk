# The stage's contract (files, params, config keys): docs/stages.md#tables
for RULE, LAYOUT, JOB, INPUT, PARAMS in families("tables"):

    rule:
        """Tables (CSV + Markdown) for every evaluated dataset, and the scorecard beside the paper."""
        name:
            RULE
        input:
            unpack(INPUT),
        output:
            **JOB.output,
        log:
            LAYOUT.log("tables"),
        localrule: True
        conda:
            "../envs/usae.yaml"
        params:
            job=PARAMS,
            code=code("tables"),
            stage="tables",
        script:
            "../scripts/stage.py"
