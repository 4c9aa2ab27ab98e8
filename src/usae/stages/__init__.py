"""Pipeline stages, one module per Snakemake rule, each exposing one function of the same name.

========  ==========================  ===============================
rule      function                    test
========  ==========================  ===============================
fetch     usae.stages.fetch.fetch     tests/test_stage_fetch.py
extract   usae.stages.extract.extract tests/test_stage_extract.py
train     usae.stages.train.train     tests/test_stage_train.py
metrics   usae.stages.metrics.metrics tests/test_stage_metrics.py
baseline  usae.stages.baseline...     tests/test_stage_baseline.py
actmax    usae.stages.actmax...       tests/test_stage_actmax.py
figures   usae.stages.figures...      tests/test_stage_figures.py
tables    usae.stages.tables.tables   tests/test_stage_tables.py
explorer  usae.stages.explorer...     tests/test_stage_explorer.py
========  ==========================  ===============================

A stage function takes its input files, its output files and exactly the parameters it reads, all
as keyword arguments named as in its rule (``input:``, ``output:``, ``params:``); paths come from
:mod:`usae.layout`. Rule scripts call it through :func:`usae.rule.run_rule`, the ``usae`` command directly.
"""
