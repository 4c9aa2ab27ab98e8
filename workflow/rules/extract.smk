rule extract:
    """Activation extraction: one model's tokens of one split into a sharded, memory-mappable store."""
    input:
        manifest=f"{RESULTS}/data/{{dataset}}/{{split}}.csv",
    output:
        meta=f"{RESULTS}/activations/{{dataset}}/{{split}}/{{model}}/meta.json",
    log:
        f"{RESULTS}/logs/extract/{{dataset}}_{{split}}_{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/extract/{{dataset}}_{{split}}_{{model}}.tsv"
    conda:
        "../envs/usae.yaml"
    threads: workflow.cores
    resources:
        gpu=1 if config["extract"]["device"] != "cpu" else 0,
    params:
        extract=config["extract"],
        spec=lambda wc: config["model_zoo"].get(wc.model, wc.model),
    script:
        "../scripts/extract.py"
