# The stage's contract (files, params, config keys): docs/stages.md#extract
PARTS = config["extract"]["parts"]
STORE = dict(data="{data}", split="{split}", model="{model}", digest="{digest}")

if PARTS == 1:
    EXTRACT = job("extract", **STORE)

    rule extract:
        """Activation extraction: one model's tokens of one split into a sharded, memory-mappable store."""
        input:
            **EXTRACT.input,
        output:
            **EXTRACT.output,
        log:
            L.log("extract", "{data}", "{split}", "{model}-{digest}"),
        benchmark:
            L.benchmark("extract", "{data}", "{split}", "{model}-{digest}")
        conda:
            "../envs/usae.yaml"
        threads: THREADS
        resources:
            **RESOURCES["extract"],
        params:
            job=job_params("extract"),
            code=code("extract"),
            stage="extract",
        script:
            "../scripts/stage.py"

else:
    EXTRACT = job("extract", **STORE, part="{part}")
    MERGE = job("extract_merge", **STORE)

    rule extract:
        """Activation extraction, part {part} of extract.parts: a range of whole shards of one store."""
        input:
            **EXTRACT.input,
        output:
            # temp: extract_merge links the part's shards into the store and deletes the part.
            **flagged(EXTRACT.output, temp, "part"),
        log:
            L.log("extract", "{data}", "{split}", "{model}-{digest}", "part{part}"),
        benchmark:
            L.benchmark(
                "extract", "{data}", "{split}", "{model}-{digest}", "part{part}"
            )
        wildcard_constraints:
            part=r"\d+",
        conda:
            "../envs/usae.yaml"
        threads: THREADS
        resources:
            **RESOURCES["extract"],
        params:
            job=job_params("extract"),
            code=code("extract"),
            stage="extract",
        script:
            "../scripts/stage.py"

    rule extract_merge:
        """Assemble one store from its extract.parts parts; its bytes equal a one-job extraction's."""
        input:
            **MERGE.input,
        output:
            **MERGE.output,
        log:
            L.log("extract_merge", "{data}", "{split}", "{model}-{digest}"),
        conda:
            "../envs/usae.yaml"
        threads: 1
        resources:
            **RESOURCES["extract_merge"],
        params:
            job=job_params("extract_merge"),
            code=code("extract"),
            stage="extract_merge",
        script:
            "../scripts/stage.py"
