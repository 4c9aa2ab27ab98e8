rule tables:
    """Tables (CSV + Markdown) for every evaluated dataset, and the scorecard beside the paper."""
    input:
        matrices=[L.metrics(name, "matrices.json") for name in EVAL_DATASETS],
        summaries=[L.metrics(name, "summary.json") for name in EVAL_DATASETS],
        concepts=L.metrics(EXPERIMENT, "concepts.csv"),
        baseline=[L.table("baseline_matching") + ".csv"] if INDEPENDENT else [],
    output:
        reconstruction=multiext(L.table("reconstruction"), *TABLE_FORMATS),
        universality=multiext(L.table("universality"), *TABLE_FORMATS),
        concepts_all=L.table("concepts") + ".csv",
        concepts_top25=L.table("concepts_top25") + ".md",
        scorecard_md=L.scorecard(".md"),
        scorecard_json=L.scorecard(".json"),
    log:
        L.log("tables"),
    localrule: True
    conda:
        "../envs/usae.yaml"
    params:
        datasets=EVAL_DATASETS,
        experiment=EXPERIMENT,
        code=code("tables"),
    script:
        "../scripts/tables.py"
