"""Run a stage from a Snakemake rule script: files and params in, nothing else."""

import sys


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
    from usae.jobs import stage_function
    from usae.records import typed
    from usae.runtime import configure

    configure(log_file=smk.log[0], threads=smk.threads)
    stage = stage_function(smk.params.stage)
    return one_line_on_user_error(stage, **dict(smk.input.items()), **dict(smk.output.items()), **typed(smk.params.job))


def one_line_on_user_error(step, *args, **kwargs):
    """``step(*args, **kwargs)``; a :class:`usae.errors.UserError` ends the process as it ends the ``usae``
    command: the line ``usae: error: <message>`` on stderr (and on the console too when stderr goes to a job's
    log), no traceback, exit status 2. Rule scripts and the Snakefile's parse (``workflow/rules/common.smk``)
    both call this."""
    from usae.errors import UserError

    try:
        return step(*args, **kwargs)
    except UserError as error:
        message = f"usae: error: {error}"
        print(message, file=sys.stderr, flush=True)
        if sys.stderr is not sys.__stderr__:  # a job's log (usae.runtime.configure): the console too
            print(message, file=sys.__stderr__, flush=True)
        raise SystemExit(2) from None
