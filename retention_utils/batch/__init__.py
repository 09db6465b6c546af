"""The batch report runner behind ``retention-report`` / ``python -m retention_utils``.

Modules, in the order a batch uses them:

* :mod:`~retention_utils.batch.params`: declared notebook parameters, value parsing and
  validation (before any kernel starts);
* :mod:`~retention_utils.batch.plan`: which notebook runs with which values, file names,
  segment fan-out, YAML run configs;
* :mod:`~retention_utils.batch.execute`: one kernel per report in worker processes, status
  from papermill's exceptions;
* :mod:`~retention_utils.batch.export`: safe, offline HTML export;
* :mod:`~retention_utils.batch.index`: ``index.html`` and ``summary.json``;
* :mod:`~retention_utils.batch.browser`: the headless-Chromium check of the exports;
* :mod:`~retention_utils.batch.cli`: the typer command.
"""
