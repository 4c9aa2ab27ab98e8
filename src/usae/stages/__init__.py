"""Pipeline stages, one module per Snakemake rule, each exposing one function of the same name.

========  ==========================  ===============================
rule      function                    test
========  ==========================  ===============================
fetch     usae.stages.fetch.fetch     tests/stages/test_fetch.py
extract   usae.stages.extract.extract tests/stages/test_extract.py
train     usae.stages.train.train     tests/stages/test_train.py
metrics   usae.stages.metrics.metrics tests/stages/test_metrics.py
baseline  usae.stages.baseline...     tests/stages/test_baseline.py
actmax    usae.stages.actmax...       tests/stages/test_actmax.py
figures   usae.stages.figures...      tests/stages/test_figures.py
tables    usae.stages.tables.tables   tests/stages/test_tables.py
explorer  usae.stages.explorer...     tests/stages/test_explorer.py
========  ==========================  ===============================

A stage function takes its input files, its output files and exactly the parameters it reads, as
keyword arguments; :mod:`usae.jobs` names them once for the rule and the ``usae`` command, with paths
from :mod:`usae.layout`. Rule scripts call it through :func:`usae.rule.run_rule`, the command directly.
"""
