"""Stage record: the experiment's resolved config beside the outputs it made, written after them."""

import yaml

from usae.io import write_text


def record(outputs, resolved, *, config):
    """Write ``resolved`` (``results/config.yaml``): the resolved config of the run whose ``outputs`` exist.

    Nothing that only plans (``snakemake -n``, a stage's dry run) writes it: this job runs once every output
    of the run is made, so the file never describes results that another config made.

    Parameters
    ----------
    outputs : list of path
        Every other output of the run (the job waits for them; they are not read).
    resolved : path
        The file to write.
    config : dict
        The resolved config (every key, defaults included).
    """
    text = "# The resolved config of this experiment: every key, defaults included.\n" + yaml.safe_dump(
        config, sort_keys=False
    )
    write_text(resolved, text)
