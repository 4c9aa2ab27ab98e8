# The stage's contract (files, params, config keys): docs/stages.md#train
for RULE, LAYOUT, JOB, INPUT, PARAMS in families("train", kind="{kind}"):

    rule:
        """USAE (kind=usae) or independent-SAE baseline (kind=independent) training; resumes from checkpoints."""
        name:
            RULE
        input:
            unpack(INPUT),
        output:
            **JOB.output,
        log:
            LAYOUT.log("train", "{kind}"),
        benchmark:
            LAYOUT.benchmark("train", "{kind}")
        wildcard_constraints:
            sweep="|".join(map(re.escape, TRAINED_APART)) or "(?!)",
            kind="|".join(jobs.trained_kinds(config)) or "(?!)",
        conda:
            "../envs/usae.yaml"
        threads: THREADS
        resources:
            **RESOURCES["train"],
        params:
            job=PARAMS,
            code=code("train"),
            stage="train",
        script:
            "../scripts/stage.py"


for SWEEP_NAME, GROUPS in TRAINED_TOGETHER.items():
    for INDEX in range(GROUPS):
        GROUP = jobs.train_group(config, L, SWEEP_NAME, INDEX)

        rule:
            """A group of a sweep's points trained in one job (sweeps.<name>.together), each batch read once."""
            name:
                group_rule(SWEEP_NAME, INDEX)
            input:
                **GROUP.input,
            output:
                **GROUP.output,
            log:
                L.log("train_group", SWEEP_NAME, str(INDEX)),
            benchmark:
                L.benchmark("train_group", SWEEP_NAME, str(INDEX))
            conda:
                "../envs/usae.yaml"
            threads: THREADS
            resources:
                **RESOURCES["train"],
            params:
                job=group_params(SWEEP_NAME, INDEX),
                code=code("train"),
                stage="train_group",
            script:
                "../scripts/stage.py"
