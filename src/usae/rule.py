"""Run a stage from a Snakemake rule script: files and params in, nothing else."""

# Params that only tell Snakemake when to rerun a rule; stages do not take them.
RERUN_TRIGGERS = ("code",)


def run_rule(smk, stage):
    """Call ``stage(**input, **output, **params)`` of a Snakemake job, logging to its log file.

    Parameters
    ----------
    smk : snakemake.script.Snakemake
        The ``snakemake`` object of a rule script: named ``input``, ``output``, ``params``, one ``log``.
    stage : callable
        A function of :mod:`usae.stages`.
    """
    from usae.runtime import configure

    configure(log_file=smk.log[0], threads=smk.threads)
    params = {key: value for key, value in smk.params.items() if key not in RERUN_TRIGGERS}
    return stage(**dict(smk.input.items()), **dict(smk.output.items()), **params)
