"""Reading results: from the run directories a grid wrote to tables, statistics and checks.

Everything here takes data and returns data (pandas frames, dataclasses), so the numbers a
report draws and the numbers CI checks are computed once, by tested code. The layer sits above
the runtime (``fedbench.apps``, whose result-file columns it reads) and below the report
(``fedbench.report``), which draws what it computes and never computes a number itself.

- ``rundirs``: the one reader of a run directory (rounds.csv, run.json), with its checks;
- ``statistics``: t quantiles, the paired t interval, means over seeds;
- ``summary``: per-cell statistics, paired comparisons and provenance (``fedbench aggregate``);
- ``targets``: rounds to a target accuracy per setting (``fedbench targets``);
- ``regression``: the reference, its bands and the published claims (``fedbench check``).
"""
