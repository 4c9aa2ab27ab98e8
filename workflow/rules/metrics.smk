rule metrics:
    """Universality and importance metrics of the trained USAE on one dataset's val split."""
    input:
        usae=f"{RESULTS}/train/usae/model.safetensors",
        independent=independent_model(),
        stores=lambda wc: expand(
            f"{RESULTS}/activations/{wc.dataset}/val/{{model}}/meta.json",
            model=config["models"],
        ),
    output:
        matrices=f"{RESULTS}/metrics/{{dataset}}/matrices.json",
        concepts=f"{RESULTS}/metrics/{{dataset}}/concepts.csv",
        top_images=f"{RESULTS}/metrics/{{dataset}}/top_images.npz",
        summary=f"{RESULTS}/metrics/{{dataset}}/summary.json",
    log:
        f"{RESULTS}/logs/metrics/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/metrics/{{dataset}}.tsv"
    conda:
        "../envs/usae.yaml"
    threads: workflow.cores
    params:
        metrics=config["metrics"],
    script:
        "../scripts/metrics.py"
