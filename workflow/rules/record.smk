# The stage's contract (files, params, config keys): docs/stages.md#record
RECORD = job("record")


rule record:
    """The experiment's resolved config (results/config.yaml), written once every other output is made."""
    input:
        **RECORD.input,
    output:
        **RECORD.output,
    log:
        L.log("record"),
    localrule: True
    conda:
        "../envs/usae.yaml"
    params:
        job=job_params("record"),
        code=code("record"),
        stage="record",
    script:
        "../scripts/stage.py"
