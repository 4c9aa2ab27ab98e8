for RULE, LAYOUT, JOB, PARAMS in families("tables"):

    rule:
        """Tables (CSV + Markdown) for every evaluated dataset, and the scorecard beside the paper."""
        name:
            RULE
        input:
            **JOB.input,
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
        script:
            "../scripts/tables.py"
