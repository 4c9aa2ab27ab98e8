"""Run a stage from a Snakemake rule script: files and params in, nothing else."""


def run_rule(smk):
    """Call the job's stage function (``params.stage``) as ``stage(**input, **output, **params.job)``,
    logging to the job's log file.

    A :class:`usae.errors.UserError` (bad input: a config key, a dataset folder, a store, a weights file)
    ends the job as it ends the ``usae`` command: one line, ``usae: error: <message>``, in the job's log
    and on the console above Snakemake's error report, no traceback, exit status 2. Any other exception
    is a bug and keeps its traceback (in the log).

    Parameters
    ----------
    smk : snakemake.script.Snakemake
        The ``snakemake`` object of a rule script: named ``input`` and ``output``, one ``log``, and
        the params ``stage`` (its function, :func:`usae.jobs.stage_function`), ``job`` (the stage's
        keyword arguments, from :mod:`usae.jobs`, in the plain form of :func:`usae.records.plain`) and
        ``code`` (a rerun trigger only, see :mod:`usae.provenance`).
    """
    from usae.errors import one_line_on_user_error
    from usae.jobs import stage_function
    from usae.records import typed
    from usae.runtime import configure

    configure(log_file=smk.log[0], threads=smk.threads)
    stage = stage_function(smk.params.stage)
    return one_line_on_user_error(stage, **dict(smk.input.items()), **dict(smk.output.items()), **typed(smk.params.job))
