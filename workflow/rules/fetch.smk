rule fetch:
    """Dataset fetch: one split's manifest (image id, path, label, sha256) and its rejects list."""
    output:
        manifest=f"{RESULTS}/data/{{dataset}}/{{split}}.csv",
        rejects=f"{RESULTS}/data/{{dataset}}/{{split}}.rejects.csv",
    log:
        f"{RESULTS}/logs/fetch/{{dataset}}_{{split}}.log",
    conda:
        "../envs/usae.yaml"
    params:
        dataset=lambda wc: DATASETS[wc.dataset][1],
    script:
        "../scripts/fetch.py"
