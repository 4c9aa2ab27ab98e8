rule fetch:
    """Dataset fetch: one split's manifest (image id, path, label, sha256) and its rejects list."""
    output:
        manifest=L.manifest("{dataset}", "{split}"),
        rejects=L.rejects("{dataset}", "{split}"),
        images=directory(L.images("{dataset}", "{split}")),
    log:
        L.log("fetch", "{dataset}", "{split}"),
    localrule: FETCH_DOWNLOADS
    conda:
        "../envs/usae.yaml"
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        dataset=lambda wc: DATASETS[wc.dataset][1],
        key=lambda wc: DATASETS[wc.dataset][0],
        split=lambda wc: wc.split,
        seed=config["seed"],
        cache=L.package_cache(),
        code=code("fetch"),
    script:
        "../scripts/fetch.py"
