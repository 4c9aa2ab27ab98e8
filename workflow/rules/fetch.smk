# The stage's contract (files, params, config keys): docs/stages.md#fetch
FETCH = job("fetch", data="{data}", split="{split}")


rule fetch:
    """Dataset fetch: one split's manifest (image id, path, label, sha256) and its rejects list, in the cache."""
    output:
        **flagged(FETCH.output, directory, "images"),
    log:
        L.log("fetch", "{data}", "{split}"),
    localrule: FETCH_DOWNLOADS
    conda:
        "../envs/usae.yaml"
    resources:
        **RESOURCES["fetch"],
    params:
        job=job_params("fetch"),
        code=code("fetch"),
        stage="fetch",
    script:
        "../scripts/stage.py"
