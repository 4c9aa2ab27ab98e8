"""Run a stage from a Snakemake rule script: files and params in, nothing else."""


def run_rule(smk, stage):
    """Call ``stage(**input, **output, **params.job)`` of a Snakemake job, logging to its log file.

    Parameters
    ----------
    smk : snakemake.script.Snakemake
        The ``snakemake`` object of a rule script: named ``input`` and ``output``, one ``log``, and
        the params ``job`` (the stage's keyword arguments, from :mod:`usae.jobs`) and ``code`` (a
        rerun trigger only, see :mod:`usae.provenance`).
    stage : callable
        A function of :mod:`usae.stages`.
    """
    from usae.runtime import configure

    configure(log_file=smk.log[0], threads=smk.threads)
    return stage(**dict(smk.input.items()), **dict(smk.output.items()), **smk.params.job)
