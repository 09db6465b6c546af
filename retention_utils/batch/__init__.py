"""The batch report runner behind ``retention-report`` / ``python -m retention_utils``.

Modules, in the order a batch uses them (each imports only modules listed before it):

* :mod:`~retention_utils.batch.models`: parameter rows, report pages, results, statuses;
* :mod:`~retention_utils.batch.params`: declared notebook parameters, value parsing and
  validation (before any kernel starts);
* :mod:`~retention_utils.batch.outdir`: the output folder: manifest, lock, refusals, atomic
  writes;
* :mod:`~retention_utils.batch.segments`: ``--segment-by``: load once, segment sizes, split;
* :mod:`~retention_utils.batch.plan`: which notebook runs with which values, file names,
  YAML run configs;
* :mod:`~retention_utils.batch.execute`: one notebook executed by papermill, the cause of a
  failure in one sentence;
* :mod:`~retention_utils.batch.export`: safe, offline HTML export;
* :mod:`~retention_utils.batch.runner`: execute and export each report in worker processes,
  statuses, interruption;
* :mod:`~retention_utils.batch.index`: ``index.html`` (template in ``index_page``) and
  ``summary.json``;
* :mod:`~retention_utils.batch.cli`: the typer command.

The headless-Chromium check of the exports is a test tool: ``tests/browser.py``.
"""
