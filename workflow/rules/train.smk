rule train:
    """USAE (kind=usae) or independent-SAE baseline (kind=independent) training; resumes from checkpoints."""
    input:
        stores=expand(
            f"{RESULTS}/activations/{EXPERIMENT}/train/{{model}}/meta.json",
            model=config["models"],
        ),
    output:
        model=f"{RESULTS}/train/{{kind}}/model.safetensors",
        meta=f"{RESULTS}/train/{{kind}}/model.json",
        log=f"{RESULTS}/train/{{kind}}/log.csv",
        curves=report(
            f"{RESULTS}/train/{{kind}}/curves.png",
            caption="../report/curves.rst",
            category="Training",
        ),
    log:
        f"{RESULTS}/logs/train/{{kind}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{kind}}.tsv"
    conda:
        "../envs/usae.yaml"
    threads: workflow.cores
    resources:
        gpu=1 if config["train"]["device"] != "cpu" else 0,
    params:
        train=config["train"],
        seed=config["seed"],
    script:
        "../scripts/train.py"
