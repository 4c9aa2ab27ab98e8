PARTS = config["extract"]["parts"]
# The extract options a store's bytes depend on: not extract.parts, which only spreads the work (the
# part jobs get it as their own param), so adding the key changed no existing job's params.
EXTRACT_OPTIONS = {
    key: value for key, value in config["extract"].items() if key != "parts"
}

if PARTS == 1:

    rule extract:
        """Activation extraction: one model's tokens of one split into a sharded, memory-mappable store."""
        input:
            manifest=rules.fetch.output.manifest,
        output:
            store=L.store("{dataset}", "{split}", "{model}"),
        log:
            L.log("extract", "{dataset}", "{split}", "{model}"),
        benchmark:
            L.benchmark("extract", "{dataset}", "{split}", "{model}")
        conda:
            "../envs/usae.yaml"
        threads: THREADS
        resources:
            gpu=uses_gpu(config["extract"]["device"]),
            cpus_per_gpu=job_threads,
            mem_mb=8000,
            runtime=60,
        params:
            model=lambda wc: wc.model,
            zoo_entry=lambda wc: config["model_zoo"].get(wc.model),
            options=EXTRACT_OPTIONS,
            seed=config["seed"],
            code=code("extract"),
        script:
            "../scripts/extract.py"

else:

    rule extract:
        """Activation extraction, part {part} of extract.parts: a range of whole shards of one store."""
        input:
            manifest=rules.fetch.output.manifest,
        output:
            # temp: extract_merge links the part's shards into the store and deletes the part.
            part=temp(L.store_part("{dataset}", "{split}", "{model}", "{part}")),
        log:
            L.log("extract", "{dataset}", "{split}", "{model}", "part{part}"),
        benchmark:
            L.benchmark("extract", "{dataset}", "{split}", "{model}", "part{part}")
        wildcard_constraints:
            part=r"\d+",
        conda:
            "../envs/usae.yaml"
        threads: THREADS
        resources:
            gpu=uses_gpu(config["extract"]["device"]),
            cpus_per_gpu=job_threads,
            mem_mb=8000,
            runtime=60,
        params:
            model=lambda wc: wc.model,
            zoo_entry=lambda wc: config["model_zoo"].get(wc.model),
            options=EXTRACT_OPTIONS,
            seed=config["seed"],
            index=lambda wc: int(wc.part),
            parts=PARTS,
            code=code("extract"),
        script:
            "../scripts/extract.py"

    rule extract_merge:
        """Assemble one store from its extract.parts parts; its bytes equal a one-job extraction's."""
        input:
            manifest=rules.fetch.output.manifest,
            parts=expand(
                L.store_part("{{dataset}}", "{{split}}", "{{model}}", "{part}"),
                part=range(PARTS),
            ),
        output:
            store=L.store("{dataset}", "{split}", "{model}"),
        log:
            L.log("extract_merge", "{dataset}", "{split}", "{model}"),
        conda:
            "../envs/usae.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=30,
        params:
            model=lambda wc: wc.model,
            zoo_entry=lambda wc: config["model_zoo"].get(wc.model),
            options=EXTRACT_OPTIONS,
            seed=config["seed"],
            code=code("extract"),
        script:
            "../scripts/extract_merge.py"
