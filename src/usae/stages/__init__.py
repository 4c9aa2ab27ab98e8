"""Pipeline stages: one module per Snakemake rule, each with the function of that name (``train_group`` and
``extract_merge`` beside ``train`` and ``extract``).

Each function takes its input files, its output files and exactly the parameters it reads, as keyword
arguments; :mod:`usae.jobs` names them once for the rule and the ``usae`` command. ``docs/stages.md``, generated
from :mod:`usae.jobs`, lists every stage's files, params and config keys.
"""
