"""Benchmark harness of the retention toolkit (``make bench``; see ``bench/README.md``).

* :mod:`bench.data`: synthetic transaction logs and RFM summaries, cached as Parquet in
  ``bench/data/`` (git-ignored);
* :mod:`bench.baselines`: the comparison code (lifetimes, and plain pandas versions of the
  KPI table and the cohort matrix, written the obvious way an analyst would);
* :mod:`bench.case`: every measured call as a function run in a fresh process
  (``python -m bench.case <case> <side> --input PATH``, prints one JSON line);
* :mod:`bench.checks`: the same-result assertions between the sides of a case;
* :mod:`bench.report`: machine description, report-pack stage breakdown, RESULTS.md;
* :mod:`bench.profile_notebook`: a report's cells under pyinstrument (for missed targets);
* :mod:`bench.run`: the runner (``python -m bench.run``, ``--smoke`` for a tiny run) that
  alternates the sides, takes medians, measures each process's peak memory and writes
  ``bench/RESULTS.md``.
"""
