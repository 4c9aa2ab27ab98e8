TABLES = job("tables")


rule tables:
    """Tables (CSV + Markdown) for every evaluated dataset, and the scorecard beside the paper."""
    input:
        **TABLES.input,
    output:
        **TABLES.output,
    log:
        R.log("tables"),
    localrule: True
    conda:
        "../envs/usae.yaml"
    params:
        job=job_params("tables"),
        code=code("tables"),
    script:
        "../scripts/tables.py"
